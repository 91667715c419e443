"""AWS clients for a stage, and the translation of botocore failures into ``votectl.errors``.

Every client honours the stage's region, profile and endpoint_url, so one flag points all
of votectl at LocalStack or a moto server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from votectl.config import Stage
from votectl.errors import (
    AwsError,
    ConfigError,
    MissingCredentials,
    ResourceMissing,
    StackNotFound,
)

__all__ = ["Aws", "aws_errors", "error_code", "no_such_action"]

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
# A custom endpoint (moto, LocalStack, a VPC endpoint) serves every action at its own host: the
# SDK's host prefix ("stream-" for StartLiveTail) would name a host that does not exist. AWS:
# "it can cause problems when using custom endpoints such as VPC endpoints or local testing
# tools. In these cases, you might need to disable host prefix injection."
# (https://docs.aws.amazon.com/sdkref/latest/guide/feature-host-prefix.html)
_CUSTOM_ENDPOINT_CONFIG = _CONFIG.merge(Config(inject_host_prefix=False))
_BAD_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
}
_MISSING = {
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "ResourceNotFoundException",
    "NoSuchBucket",
}


class Aws:
    """Clients for one stage, created on first use and shared (boto3 clients are thread-safe)."""

    def __init__(self, stage: Stage, session: boto3.Session | None = None) -> None:
        self.stage = stage
        self._session = session
        self._clients: dict[str, Any] = {}

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            with aws_errors("opening an AWS session", self.stage):
                self._session = boto3.Session(
                    profile_name=self.stage.profile, region_name=self.stage.region
                )
        return self._session

    @property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise ConfigError(
                f"stage {self.stage.name!r} has no region",
                hint=f"set region in [stages.{self.stage.name}] of votectl.toml, pass --region,"
                " or set AWS_DEFAULT_REGION",
            )
        return region

    def client(self, service: str) -> Any:
        if service not in self._clients:
            with aws_errors(f"creating the {service} client", self.stage):
                self._clients[service] = self.session.client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.stage.endpoint_url,
                    config=_CUSTOM_ENDPOINT_CONFIG if self.stage.endpoint_url else _CONFIG,
                )
        return self._clients[service]

    def account_id(self) -> str:
        with aws_errors("reading the account id", self.stage):
            return str(self.client("sts").get_caller_identity()["Account"])


# What an endpoint answers for an action it does not have: AWS's common error InvalidAction
# (query protocol) or UnknownOperationException (JSON protocol); LocalStack's NotImplemented.
_NO_SUCH_ACTION = {"InvalidAction", "UnknownOperationException", "NotImplemented"}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    message = str(exc.response.get("Error", {}).get("Message", "")).strip()
    return message.splitlines()[0] if message else str(exc)


def no_such_action(exc: ClientError) -> bool:
    """Does the endpoint say it has no such action (rather than that the action failed)?

    AWS and LocalStack answer with an error code. A moto server answers a 500 (an HTML page
    from its web framework) or, for streaming APIs such as StartLiveTail, a 404 "Not yet
    implemented": no AWS error document, so botocore finds no code and no request id. AWS
    always sends both, so a 500 from AWS is a failure, never a reason to fall back.
    """
    if error_code(exc) in _NO_SUCH_ACTION:
        return True
    meta = exc.response.get("ResponseMetadata", {})
    status = meta.get("HTTPStatusCode")
    unparsed = error_code(exc) == str(status)
    return status in (404, 500, 501) and unparsed and not meta.get("RequestId")


def _credentials_hint(stage: Stage | None) -> str | None:
    """An emulator wants credentials as AWS does (boto3 signs every request), and any will do."""
    if stage is None or not stage.endpoint_url:
        return None
    return (
        f"an emulator at {stage.endpoint_url} takes any credentials: e.g."
        " `export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing`"
    )


def _deploy_it(stage: Stage | None) -> str | None:
    """The deploy command for ``stage`` as typed: its name, and the endpoint if flags gave it."""
    if stage is None:
        return None
    flags = f" --endpoint-url {stage.endpoint_url}" if stage.endpoint_url else ""
    return f"deploy it first: `votectl deploy --stage {stage.name}{flags}`"


@contextmanager
def aws_errors(action: str, stage: Stage | None = None) -> Iterator[None]:
    """Turn botocore failures raised inside the block into one-line ``votectl.errors``."""
    where = (stage and stage.endpoint_url) or "AWS"
    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise MissingCredentials(
            f"{action}: no AWS credentials found", hint=_credentials_hint(stage)
        ) from None
    except ProfileNotFound as exc:
        raise MissingCredentials(f"{action}: {exc}") from None
    except NoRegionError:
        raise ConfigError(
            f"{action}: no region",
            hint="set region in votectl.toml, pass --region, or set AWS_DEFAULT_REGION",
        ) from None
    except EndpointConnectionError as exc:
        raise AwsError(
            f"{action}: cannot reach {where} ({exc})",
            hint="check --endpoint-url / the stage's endpoint_url and your network",
        ) from None
    except ClientError as exc:
        code, message = error_code(exc), _message(exc)
        if code in _BAD_CREDENTIALS:
            raise MissingCredentials(f"{action}: credentials rejected ({code})") from None
        if code == "ValidationError" and "does not exist" in message:
            stack = stage.stack_name if stage else "the stack"
            raise StackNotFound(
                f"{action}: stack {stack} does not exist", hint=_deploy_it(stage)
            ) from None
        if code in _MISSING:
            raise ResourceMissing(f"{action}: {message}") from None
        if code in ("AccessDenied", "AccessDeniedException"):
            raise AwsError(
                f"{action}: access denied: {message}",
                hint="the credentials in use lack a permission this command needs",
            ) from None
        raise AwsError(f"{action}: {code}: {message}") from None
    except BotoCoreError as exc:
        raise AwsError(f"{action}: {exc}") from None
