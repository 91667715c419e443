"""Fixtures shared across test directories. AWS ones use fake credentials and never reach AWS."""

from __future__ import annotations

import compileall
import random
import sys
import zipfile
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def pytest_configure(config: pytest.Config) -> None:
    """Where PYTHONDONTWRITEBYTECODE is set (this host sets it), no process writes bytecode, so
    every `votectl`, `votectl up` child and Locust process the suite starts compiled the
    checkout's modules from source again (~0.1 s of CPU a `votectl up`): compile them once,
    here, before the workers start (files already compiled and unchanged are skipped)."""
    if not sys.dont_write_bytecode or hasattr(config, "workerinput"):  # workers: done already
        return
    root = Path(__file__).resolve().parents[1]
    for package in ("votectl", "lambdas", "loadtests"):
        compileall.compile_dir(root / package, quiet=2)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`, pyproject.toml) a module's tests run on one
    worker, in order, sharing its module-scoped fixtures (a `votectl up`, a moto server); a
    module whose tests share nothing says ``SPREAD_ACROSS_WORKERS = True`` and is spread."""
    for item in items:
        module = getattr(item, "module", None)
        if item.get_closest_marker("xdist_group") or getattr(module, "SPREAD_ACROSS_WORKERS", 0):
            continue
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


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


def fake_msgspec_wheel(folder: Path, architecture: str, python: str = "cp314") -> Path:
    """A wheel shaped like msgspec's (a 500 KB incompressible extension), built offline."""
    version = metadata.version("msgspec")
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    path = folder / f"msgspec-{version}-{python}-{python}-manylinux2014_{machine}.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("msgspec/__init__.py", "")
        blob = random.Random(0).randbytes(500 * 1024)
        whl.writestr(f"msgspec/_core.{python}-{machine}-linux-gnu.so", blob)
        whl.writestr(f"msgspec-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return path


@pytest.fixture
def make_wheel() -> Callable[..., Path]:
    return fake_msgspec_wheel


@pytest.fixture
def wheel_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A filled votectl wheel cache ($VOTECTL_WHEEL_CACHE), so bundling needs no network."""
    from votectl.aws.bundle import PLATFORMS, PYTHON_VERSION

    cache = tmp_path / "wheel-cache"
    for architecture, platform in PLATFORMS.items():
        folder = cache / f"cp{PYTHON_VERSION.replace('.', '')}-{platform}"
        fake_msgspec_wheel(folder, architecture)
    monkeypatch.setenv("VOTECTL_WHEEL_CACHE", str(cache))
    return cache
