"""The public repository's links, all derived from pyproject.toml's ``[project.urls] Repository``.

The repository's owner/name is written in one place, pyproject.toml. The Binder and Colab
badges, the JupyterHub (nbgitpuller) link and the install cell at the top of every notebook are
built from it here; tests/test_classroom.py checks that the README, docs/instructor.md and the
notebooks use exactly these links, and tools/build_site.py puts them on the site.

    python tools/project_links.py                 # print every link
    python tools/project_links.py --install-cell  # print the notebooks' first code cell
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
BRANCH = "main"
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """``https://github.com/OWNER/NAME`` from ``[project.urls] Repository``."""
    urls = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"].get("urls", {})
    url = urls.get("Repository", "")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(
            f"{pyproject}: [project.urls] Repository must be https://github.com/OWNER/NAME, got {url!r}"
        )
    return url


def owner_and_name() -> tuple[str, str]:
    owner, name = repository_url().removeprefix("https://github.com/").split("/")
    return owner, name


def binder_url(notebook: str = FIRST_NOTEBOOK) -> str:
    owner, name = owner_and_name()
    return f"https://mybinder.org/v2/gh/{owner}/{name}/HEAD?urlpath=lab/tree/{notebook}"


def colab_url(notebook: str = FIRST_NOTEBOOK) -> str:
    owner, name = owner_and_name()
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{BRANCH}/{notebook}"


def nbgitpuller_url(hub: str = "https://YOUR-HUB", notebook: str = FIRST_NOTEBOOK) -> str:
    """A link that clones (or updates) the series into a JupyterHub user's home and opens ``notebook``."""
    _, name = owner_and_name()
    query = urlencode(
        {"repo": repository_url(), "urlpath": f"lab/tree/{name}/{notebook}", "branch": BRANCH},
        quote_via=quote,
        safe="",
    )
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def binder_badge(notebook: str = FIRST_NOTEBOOK) -> str:
    return f"[![Launch on Binder]({BINDER_BADGE})]({binder_url(notebook)})"


def colab_badge(notebook: str = FIRST_NOTEBOOK) -> str:
    return f"[![Open in Colab]({COLAB_BADGE})]({colab_url(notebook)})"


def install_cell() -> str:
    """The first code cell of every notebook: on Colab, fetch the series and install warmup_lib."""
    _, name = owner_and_name()
    return f"""\
# On Colab (or any Jupyter without this series), fetch the series and install warmup_lib first.
import importlib.util
import os

if importlib.util.find_spec("warmup_lib") is None:
    !git clone --quiet --depth 1 {repository_url()}.git
    %pip install --quiet ./{name}
    importlib.invalidate_caches()
    os.chdir("{name}/notebooks")  # as in the repository: data/ is found from here"""


if __name__ == "__main__":
    import sys

    if "--install-cell" in sys.argv[1:]:
        print(install_cell())
        sys.exit(0)
    print(f"repository: {repository_url()}")
    print(f"binder:     {binder_url()}")
    print(f"colab:      {colab_url()}")
    print(f"jupyterhub: {nbgitpuller_url()}")
