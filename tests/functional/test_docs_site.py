"""The docs site's strict build fails on what a reader would trip over: a broken link, a page
missing from the nav's files, a page left out of the nav (mkdocs.yml `validation`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build(site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site / "out")],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def test_the_site_builds_strictly_with_the_cli_reference(site: Path) -> None:
    done = build(site)
    assert done.returncode == 0, done.stderr[-3000:]
    page = (site / "out" / "cli" / "index.html").read_text()
    assert "votectl up" in page and "--visibility-timeout" in page


def test_a_broken_link_fails_the_build(site: Path) -> None:
    page = site / "docs" / "operating.md"
    page.write_text(page.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    done = build(site)
    assert done.returncode != 0 and "no-such-page.md" in done.stderr


def test_a_page_left_out_of_the_nav_fails_the_build(site: Path) -> None:
    (site / "docs" / "orphan.md").write_text("# Orphan\n")
    done = build(site)
    assert done.returncode != 0 and "orphan.md" in done.stderr


def test_a_nav_entry_without_its_page_fails_the_build(site: Path) -> None:
    (site / "docs" / "speed.md").unlink()
    done = build(site)
    assert done.returncode != 0 and "speed.md" in done.stderr
