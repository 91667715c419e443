"""Function bundles: reproducible bytes, small receiver, wheels for the target not the host."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from votectl.aws import bundle
from votectl.errors import BundleFailed

SO = {"arm64": "aarch64", "x86_64": "x86_64"}


@pytest.fixture
def local_wheels(tmp_path: Path, make_wheel: Callable[..., Path]) -> bundle.WheelSource:
    def source(project: str, architecture: str, cache_dir: Path, runtime: str) -> Path:
        assert project == "msgspec" and runtime == "python3.14"
        return make_wheel(tmp_path / "wheels", architecture)

    return source


def test_two_builds_give_the_same_bytes(tmp_path: Path, local_wheels: bundle.WheelSource) -> None:
    source = local_wheels
    first = bundle.build(tmp_path / "a", wheel_source=source)
    second = bundle.build(tmp_path / "b", wheel_source=source)
    assert [a.sha256 for a in first.artifacts] == [a.sha256 for a in second.artifacts]
    for artifact in first.artifacts:
        data = Path(artifact.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact.sha256
        with zipfile.ZipFile(artifact.path) as archive:
            infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert len({a.sha256 for a in first.artifacts}) == 3  # each function its own zip


def test_each_zip_holds_its_handler_and_what_it_imports(
    tmp_path: Path, local_wheels: bundle.WheelSource
) -> None:
    result = bundle.build(tmp_path, wheel_source=local_wheels)
    receiver = {a.function: a for a in result.artifacts}["receiver"]
    assert receiver.size < 1024 * 1024
    names = set(zipfile.ZipFile(receiver.path).namelist())
    assert {"lambdas/receiver.py", "lambdas/adapters.py", "lambdas/contract.py"} <= names
    assert "lambdas/writer.py" not in names and "lambdas/batch.py" not in names
    assert "msgspec/_core.cp314-aarch64-linux-gnu.so" in names


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_vendored_extension_is_for_the_target(
    tmp_path: Path, architecture: str, local_wheels: bundle.WheelSource
) -> None:
    result = bundle.build(tmp_path, architecture, wheel_source=local_wheels)
    names = zipfile.ZipFile(result.artifacts[0].path).namelist()
    extensions = [n for n in names if n.endswith(".so")]
    assert extensions == [f"msgspec/_core.cp314-{SO[architecture]}-linux-gnu.so"]


def test_a_host_wheel_is_refused(tmp_path: Path, make_wheel: Callable[..., Path]) -> None:
    def host(project: str, architecture: str, cache_dir: Path, runtime: str) -> Path:
        return make_wheel(tmp_path, "x86_64", python="cp311")

    with pytest.raises(BundleFailed, match="does not run on python3.14 arm64"):
        bundle.build(tmp_path / "out", "arm64", wheel_source=host)


def test_pip_wheel_uses_the_cache_without_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_wheel: Callable[..., Path]
) -> None:
    folder = tmp_path / f"cp314-{bundle.PLATFORMS['arm64']}"
    cached = make_wheel(folder, "arm64")
    make_wheel(folder, "x86_64")  # a wheel for the other machine in the wrong folder is ignored

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip download should not run when the cache has the wheel")

    monkeypatch.setattr(bundle.subprocess, "run", no_network)
    assert bundle.pip_wheel("msgspec", "arm64", tmp_path) == cached


def test_pip_wheel_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Done:
        returncode = 1
        stderr = "ERROR: No matching distribution found for msgspec\n"

    monkeypatch.setattr(bundle.subprocess, "run", lambda *a, **k: Done())
    with pytest.raises(BundleFailed, match="No matching distribution"):
        bundle.pip_wheel("msgspec", "arm64", tmp_path)


def test_the_runtime_picks_the_wheel(tmp_path: Path, make_wheel: Callable[..., Path]) -> None:
    asked: list[str] = []

    def source(project: str, architecture: str, cache_dir: Path, runtime: str) -> Path:
        asked.append(runtime)
        return make_wheel(tmp_path / "wheels", architecture, python="cp312")

    result = bundle.build(tmp_path / "out", "arm64", wheel_source=source, runtime="python3.12")
    assert (result.runtime, asked) == ("python3.12", ["python3.12"])
    names = zipfile.ZipFile(result.artifacts[0].path).namelist()
    assert "msgspec/_core.cp312-aarch64-linux-gnu.so" in names
    with pytest.raises(BundleFailed, match="does not run on python3.13 arm64"):
        bundle.build(tmp_path / "out", "arm64", wheel_source=source, runtime="python3.13")
    with pytest.raises(BundleFailed, match="runtime must be one of python3.11"):
        bundle.build(tmp_path / "out", "arm64", wheel_source=source, runtime="python3.9")


def test_abi3_wheels_fit_later_pythons_only() -> None:
    def fits(name: str, runtime: str) -> bool:
        return bundle._wheel_fits(Path(name), "x86_64", runtime)

    wheel = "m-1-cp39-abi3-manylinux2014_x86_64.whl"
    assert fits(wheel, "python3.14") and fits(wheel, "python3.11")
    assert not fits("m-1-cp312-abi3-manylinux2014_x86_64.whl", "python3.11")


def test_pip_wheel_downloads_for_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_wheel: Callable[..., Path]
) -> None:
    commands: list[list[str]] = []

    def download(command: list[str], **kwargs: object) -> object:
        commands.append(command)
        make_wheel(Path(command[command.index("--dest") + 1]), "x86_64", python="cp313")

        class Done:
            returncode = 0
            stderr = ""

        return Done()

    monkeypatch.setattr(bundle.subprocess, "run", download)
    wheel = bundle.pip_wheel("msgspec", "x86_64", tmp_path, runtime="python3.13")
    assert "cp313-cp313-manylinux2014_x86_64" in wheel.name
    assert wheel.parent.name == "cp313-manylinux2014_x86_64"
    assert commands[0][commands[0].index("--python-version") + 1] == "3.13"
