"""Fixtures shared across test directories. AWS ones use fake credentials and never reach AWS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake credentials and region in the environment, with no profile to fall back on."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    return FAKE_AWS_ENV


@pytest.fixture
def mocked_aws(aws_env: dict[str, str]) -> Iterator[None]:
    """moto in-process: every boto3 client created inside the test talks to it."""
    from moto import mock_aws

    with mock_aws():
        yield
