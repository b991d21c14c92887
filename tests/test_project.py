"""Project hygiene: README and CI agree, conda and pip agree, ruff is clean."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", section, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_quickstart_has_exactly_two_commands_launch_and_test():
    commands = quickstart_commands()
    assert len(commands) == 2, commands
    launch, test = commands
    assert "jupyter lab" in launch and "notebooks" in launch
    assert "pytest" in test
    for command in commands:
        assert "torch==2.13.0" in command, "pin torch so pip takes the CPU wheel"


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = quickstart_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_environment_yml_and_pyproject_name_the_same_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        pip_names |= {_name(r) for r in extra}
    conda_names = set()
    text = (ROOT / "environment.yml").read_text()
    deps = text.split("dependencies:", 1)[1]
    for line in deps.splitlines():
        match = re.match(r"^\s{2}- ([A-Za-z0-9_.\-]+)", line)
        if match and not line.strip().startswith("- pip:"):
            conda_names.add(CONDA_TO_PIP.get(_name(match.group(1)), _name(match.group(1))))
    conda_names -= CONDA_ONLY
    assert conda_names == pip_names, (
        f"only in environment.yml: {sorted(conda_names - pip_names)}; only in pyproject.toml: {sorted(pip_names - conda_names)}"
    )
    assert "conda-forge" in text and "defaults\n" not in text.replace("nodefaults", "")
    assert re.search(r"pytorch=.*cpu", text), "Binder must get the CPU-only PyTorch build"
    assert "- -e ." in text, "the package itself must be installed"


def test_ruff_is_clean_on_package_tests_benchmarks_notebooks_tools_and_examples():
    pytest.importorskip("ruff")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "warmup_lib", "tests", "benchmarks", "notebooks", "tools", "examples"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
