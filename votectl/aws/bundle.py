"""Function bundles: one reproducible zip per Lambda function, third-party code from wheels.

Each zip holds the ``lambdas`` modules its handler imports (found by walking imports) plus
msgspec unpacked from the wheel for the target runtime (python3.11 to python3.14) and
architecture, never the host's.
The same sources and wheel give the same bytes: sorted entries, a fixed timestamp, fixed
permissions and compression level.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from votectl.config import RUNTIMES
from votectl.errors import BundleFailed, make_dir

__all__ = [
    "ARCHITECTURES",
    "FUNCTIONS",
    "PYTHON_VERSION",
    "RUNTIME",
    "RUNTIMES",
    "Artifact",
    "Bundle",
    "WheelSource",
    "build",
    "pip_wheel",
]

FUNCTIONS = ("receiver", "processor", "writer")
RUNTIME = "python3.14"  # the default
PYTHON_VERSION = "3.14"
VENDORED = ("msgspec",)
# Lambda's arm64 / x86_64 runtimes are Amazon Linux 2023 (glibc 2.34): manylinux2014 wheels fit.
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
ARCHITECTURES = tuple(PLATFORMS)
_MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}
_DATE = (1980, 1, 1, 0, 0, 0)
_LEVEL = 9
_LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def default_cache() -> Path:
    """$VOTECTL_WHEEL_CACHE, or ~/.cache/votectl/wheels."""
    configured = os.environ.get("VOTECTL_WHEEL_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "votectl" / "wheels"


# wheel_source(project, architecture, cache_dir, runtime) -> a wheel for that runtime and machine
WheelSource = Callable[[str, str, Path, str], Path]


def python_version(runtime: str) -> str:
    """ "python3.12" -> "3.12"; BundleFailed for a runtime Lambda has no Python for."""
    if runtime not in RUNTIMES:
        raise BundleFailed(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    return runtime.removeprefix("python")


@dataclass(frozen=True)
class Artifact:
    function: str
    path: str
    size: int
    sha256: str

    @property
    def s3_key(self) -> str:
        return f"functions/{self.function}/{self.sha256}.zip"


@dataclass(frozen=True)
class Bundle:
    runtime: str
    architecture: str
    artifacts: tuple[Artifact, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "architecture": self.architecture,
            "artifacts": [asdict(a) for a in self.artifacts],
        }


# --- sources --------------------------------------------------------------------------


def _local_imports(path: Path) -> set[str]:
    """``lambdas.X`` modules a file imports, lazy imports inside functions included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lambdas."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("lambdas.")}
    return found


def modules_for(function: str, root: Path = _LAMBDAS) -> list[str]:
    """The handler module and everything it imports from ``lambdas``, transitively."""
    todo, seen = [function], set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_local_imports(root / f"{name}.py") - seen)
    return sorted(seen)


# --- wheels ---------------------------------------------------------------------------


def _wheel_fits(wheel: Path, architecture: str, runtime: str = RUNTIME) -> bool:
    """Does this wheel's filename say it runs on ``runtime`` for ``architecture``?"""
    parts = wheel.name[: -len(".whl")].split("-")
    if len(parts) < 5:
        return False
    python, abi, platform = parts[-3], parts[-2], parts[-1]
    cp = "cp" + python_version(runtime).replace(".", "")
    if platform == "any":
        return python.startswith("py3") and abi == "none"
    if _MACHINE[architecture] not in platform or "linux" not in platform:
        return False
    return python == cp or (abi == "abi3" and _minor(python) <= _minor(cp))


def _minor(tag: str) -> int:
    """ "cp312" -> 12 (string order would put cp39 after cp314)."""
    digits = tag.removeprefix("cp3")
    return int(digits) if digits.isdigit() else -1


def pip_wheel(
    project: str, architecture: str, cache_dir: Path | None = None, runtime: str = RUNTIME
) -> Path:
    """A wheel of ``project`` (the host's installed version) for the target, via pip download.

    Cached per platform: a wheel already in the cache is used without the network.
    """
    try:
        version = metadata.version(project)
    except metadata.PackageNotFoundError:
        raise BundleFailed(f"{project} is not installed; cannot pick its version") from None
    cache_dir = cache_dir or default_cache()
    python = python_version(runtime)
    target = cache_dir / f"cp{python.replace('.', '')}-{PLATFORMS[architecture]}"
    cached = _find_wheel(target, project, version, architecture, runtime)
    if cached:
        return cached
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary=:all:", "--platform", PLATFORMS[architecture],
        "--python-version", python, "--implementation", "cp",
        "--dest", str(target), f"{project}=={version}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    found = _find_wheel(target, project, version, architecture, runtime)
    if done.returncode or not found:
        last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise BundleFailed(
            f"could not download {project}=={version} for {runtime} {architecture}: {last}",
            hint="check network access to PyPI, or pre-fill the wheel cache " + str(cache_dir),
        )
    return found


def _find_wheel(
    folder: Path, project: str, version: str, architecture: str, runtime: str
) -> Path | None:
    prefix = f"{project.replace('-', '_')}-{version}-"
    for wheel in sorted(folder.glob("*.whl")):
        if wheel.name.startswith(prefix) and _wheel_fits(wheel, architecture, runtime):
            return wheel
    return None


# --- zips -----------------------------------------------------------------------------


def _entries(function: str, wheels: list[Path], root: Path) -> Iterator[tuple[str, bytes]]:
    yield "lambdas/__init__.py", (root / "__init__.py").read_bytes()
    for module in modules_for(function, root):
        yield f"lambdas/{module}.py", (root / f"{module}.py").read_bytes()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as whl:
            for info in whl.infolist():
                if not info.is_dir():
                    yield info.filename, whl.read(info)


def deterministic_zip(entries: Iterator[tuple[str, bytes]]) -> bytes:
    """Zip bytes that depend only on the (name, content) pairs given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in sorted(dict(entries).items()):
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.create_system = 3  # unix, so the permission bits below are honoured
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=_LEVEL)
    return buffer.getvalue()


def build(
    out_dir: Path,
    architecture: str = "arm64",
    wheel_source: WheelSource = pip_wheel,
    cache_dir: Path | None = None,
    root: Path = _LAMBDAS,
    runtime: str = RUNTIME,
) -> Bundle:
    """Write ``<function>.zip`` for each function into ``out_dir``; return names, sizes, hashes."""
    if architecture not in PLATFORMS:
        raise BundleFailed(f"architecture must be one of {', '.join(ARCHITECTURES)}")
    python_version(runtime)
    # before the wheels are fetched: a folder that cannot be one says so at once
    make_dir(out_dir, f"cannot write the zips into {out_dir}", "--out")
    cache = cache_dir or default_cache()
    wheels = [wheel_source(project, architecture, cache, runtime) for project in VENDORED]
    for wheel in wheels:
        if not _wheel_fits(wheel, architecture, runtime):
            raise BundleFailed(
                f"{wheel.name} does not run on {runtime} {architecture}",
                hint="the wheel source returned a wheel for another platform",
            )
    artifacts = []
    for function in FUNCTIONS:
        data = deterministic_zip(_entries(function, wheels, root))
        path = out_dir / f"{function}.zip"
        path.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        artifacts.append(Artifact(function, str(path), len(data), digest))
    return Bundle(runtime, architecture, tuple(artifacts))
