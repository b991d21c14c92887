"""pytorch_warmup's own test suite, run against ``warmup_lib.compat.pytorch_warmup`` with only its
imports changed.

The suite is not copied into this repository. The test takes the package's source distribution
(``pytorch-warmup==0.2.0``, MIT licence, the version the reference vectors come from) from the
package index with ``pip download``, checks its SHA-256, extracts its ``test/`` folder, replaces
upstream's one import of the package (``import pytorch_warmup as warmup``) by
``import warmup_lib.compat.pytorch_warmup as warmup``, checks that no other line changed, and runs
the result with pytest in a fresh interpreter. ``tests/test_port_pytorch_warmup.py`` checks the
same behaviour offline, in tests written for this project.

Without the package index the test is skipped, except in CI (``CI`` set), where it fails: CI
installs everything from the index anyway, so a missing download there is a real failure.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SDIST = "pytorch_warmup-0.2.0.tar.gz"
REQUIREMENT = "pytorch-warmup==0.2.0"
SHA256 = "da01fef6a75a0db3502f5566957ec3d28fc6d754bf5cceba3165815411a7278f"
UPSTREAM_IMPORT = "import pytorch_warmup as warmup"
OUR_IMPORT = "import warmup_lib.compat.pytorch_warmup as warmup"
UPSTREAM_FILES = (
    "test/__init__.py",
    "test/test_base.py",
    "test/test_radam.py",
    "test/test_untuned.py",
)
# test_linear, test_exponetial, test_linear_chaining, test_linear_wo_lr_scheduler, test_radam and
# the two untuned tests
UPSTREAM_TESTS = 7


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must reach the package index)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sdist(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The verified source distribution, downloaded once and kept in pytest's cache folder."""
    cache = request.config.cache
    folder = (
        cache.mkdir("upstream-sdists") if cache is not None else tmp_path_factory.mktemp("sdists")
    )
    path = folder / SDIST
    if not path.exists():
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "--dest",
            str(folder),
            REQUIREMENT,
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            _unavailable(f"pip download {REQUIREMENT} took over 300 s")
        if done.returncode != 0 or not path.exists():
            _unavailable(f"pip download {REQUIREMENT} failed: {done.stderr.strip()[-500:]}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == SHA256, (
        f"{path.name} has SHA-256 {digest}, expected {SHA256}; delete it to fetch it again"
    )
    return path


def test_the_sdist_holds_upstreams_test_folder(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    missing = [name for name in UPSTREAM_FILES if name not in names]
    assert not missing, f"{sdist.name} lacks {missing}"


def test_upstream_suite_passes_with_only_the_imports_changed(sdist: Path, tmp_path: Path) -> None:
    changed = []
    with tarfile.open(sdist) as archive:
        for name in UPSTREAM_FILES:
            member = archive.getmember(f"pytorch_warmup-0.2.0/{name}")
            original = archive.extractfile(member).read().decode()  # type: ignore[union-attr]
            ported = original.replace(UPSTREAM_IMPORT, OUR_IMPORT)
            diff = [
                line
                for line in difflib.unified_diff(
                    original.splitlines(), ported.splitlines(), n=0, lineterm=""
                )
                if line[:1] in "+-" and line[:3] not in ("+++", "---")
            ]
            changed += diff
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(ported)
    assert changed and all(line[1:] in (UPSTREAM_IMPORT, OUR_IMPORT) for line in changed), (
        f"only the package import may change, but the diff is {changed}"
    )
    assert "import pytorch_warmup" not in "".join(
        (tmp_path / n).read_text() for n in UPSTREAM_FILES
    )

    # A fresh interpreter in the extracted folder: none of this project's pytest settings apply.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, (
        f"upstream's tests failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    )
    assert f"{UPSTREAM_TESTS} passed" in summary, (
        f"expected {UPSTREAM_TESTS} upstream tests to pass: {summary!r}"
    )
