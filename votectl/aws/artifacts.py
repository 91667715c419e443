"""The function zips and the artifacts bucket they are uploaded to (one per stage).

Steps ``build_bundle``, ``ensure_bucket`` and ``upload``; ``purge_bucket`` for destroy.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from botocore.exceptions import ClientError

from votectl.aws import bundle as bundling
from votectl.aws.pipeline import Deploy
from votectl.aws.session import Aws, aws_errors, error_code
from votectl.config import Stage

__all__ = ["artifacts_bucket", "build_bundle", "ensure_bucket", "purge_bucket", "upload"]

_MISSING = ("404", "NoSuchBucket", "NoSuchKey", "NotFound")


def artifacts_bucket(stage: Stage, account_id: str, region: str) -> str:
    """One bucket per stage, account and region: purging it never touches another stage."""
    name = f"votectl-{stage.name.lower()}-{account_id}-{region}"
    if len(name) > 63:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"votectl-{stage.name.lower()[: 63 - 36 - 9]}-{digest}-{account_id}-{region}"[:63]
    return name


def build_bundle(run: Deploy) -> None:
    run.hooks.on_step(f"bundling functions ({run.stage.runtime})")
    run.bundle = bundling.build(
        run.out_dir, run.stage.architecture, run.wheel_source, runtime=run.stage.runtime
    )


def ensure_bucket(run: Deploy) -> None:
    s3 = run.aws.client("s3")
    run.bucket = artifacts_bucket(run.stage, run.aws.account_id(), run.aws.region)
    run.hooks.on_step(f"artifacts bucket {run.bucket}")
    with aws_errors(f"preparing artifacts bucket {run.bucket}", run.stage):
        try:
            s3.head_bucket(Bucket=run.bucket)
            return
        except ClientError as exc:
            if error_code(exc) not in _MISSING:
                raise
        where = (
            {}
            if run.aws.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": run.aws.region}}
        )
        s3.create_bucket(Bucket=run.bucket, **where)
        s3.put_public_access_block(
            Bucket=run.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_versioning(Bucket=run.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=run.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )


def upload(run: Deploy) -> None:
    assert run.bundle is not None
    s3 = run.aws.client("s3")
    for artifact in run.bundle.artifacts:
        with aws_errors(f"uploading {artifact.function}.zip", run.stage):
            try:
                s3.head_object(Bucket=run.bucket, Key=artifact.s3_key)
                continue  # keyed by content hash: already there means identical
            except ClientError as exc:
                if error_code(exc) not in _MISSING:
                    raise
            run.hooks.on_step(f"uploading {artifact.function}.zip")
            s3.put_object(
                Bucket=run.bucket, Key=artifact.s3_key, Body=Path(artifact.path).read_bytes()
            )


def purge_bucket(aws: Aws, bucket: str) -> None:
    """Empty (every version) and delete the bucket; a missing bucket is already purged."""
    s3 = aws.client("s3")
    with aws_errors(f"purging bucket {bucket}", aws.stage):
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return
            raise
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if doomed:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)
