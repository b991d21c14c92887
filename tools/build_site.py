"""Build a static HTML site from the stored executed notebooks, offline and without re-running them.

    python tools/build_site.py OUT        # then open OUT/index.html

Sphinx with MyST-NB (execution off) renders each notebook as stored, so the site shows exactly
the outputs a learner's run produced. One page per notebook and an index page with the learning
path (titles and times from ``warmup_lib/series.csv``) and the Binder / Colab links (derived from
pyproject.toml by ``tools/project_links.py``). Cell tags decide what a reader sees:

- ``self-check``: code hidden, output kept (``remove-input``);
- ``install-if-missing`` and ``exercise`` (starter cells with stubs): left out (``remove-cell``);
- ``solution``: code folded behind a "show" toggle (``hide-input``), output shown.

Explorer widgets are shown by the ``image/png`` stored next to the widget view: a static page
has no kernel, so the widget view itself is dropped from MyST-NB's render priority.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import project_links

from warmup_lib import series

ROOT = Path(__file__).resolve().parent.parent

#: Cell tag in the notebooks -> MyST-NB tag that hides it on the site.
SITE_TAGS = {
    "self-check": "remove-input",
    "install-if-missing": "remove-cell",
    "exercise": "remove-cell",
    "solution": "hide-input",
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

CONF = '''\
project = "Learning-rate warmup in PyTorch"
author = "The warmup series authors"
extensions = ["myst_nb"]
exclude_patterns = ["_build"]
nb_execution_mode = "off"  # show the stored outputs; never re-run the notebooks
# A static page has no kernel to draw a widget: show the image/png stored beside its view.
nb_mime_priority_overrides = [
    ("html", "{widget}", None),
    ("dirhtml", "{widget}", None),
]
nb_output_stderr = "remove"  # progress bars and warnings are noise for a reader
myst_enable_extensions = ["dollarmath", "amsmath"]
html_theme = "sphinx_book_theme"
html_title = project
html_show_sourcelink = False
html_theme_options = {{
    "repository_url": "{repository}",
    "repository_branch": "{branch}",
    "path_to_docs": "notebooks",
    "use_repository_button": True,
    "launch_buttons": {{
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab",
    }},
}}
'''


def index_page() -> str:
    """The landing page: what the series is, how to start, and the learning path."""
    rows = "\n".join(
        f"| [{lesson.number} — {lesson.title}]({lesson.notebook}.ipynb) | {lesson.student_minutes} min |"
        for lesson in series.lessons()
    )
    toctree = "\n".join(lesson.notebook for lesson in series.lessons())
    repository = project_links.repository_url()
    return f"""\
# Learning-rate warmup in PyTorch

A hands-on series of notebooks that teach learning-rate warmup with live, measured evidence:
what it is, why early training is fragile, which warmup and decay curves exist, when warmup
visibly helps and when it does not, how to read training metrics, and what warmup can and cannot
do for an imbalanced fraud-detection model. Every effect is computed in the notebook over
several seeds; these pages show a stored run.

**Run it yourself:** {project_links.binder_badge()} {project_links.colab_badge()} —
or locally, following the [README]({repository}#quickstart). Instructors: the
[instructor guide]({repository}/blob/{project_links.BRANCH}/docs/instructor.md).

## The learning path

Work through the notebooks in order; the time is a realistic working time for a student.

| notebook | student time |
|---|---|
{rows}

```{{toctree}}
:hidden:
:maxdepth: 1

{toctree}
```
"""


def site_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook as the site shows it: tags mapped to MyST-NB's, stored outputs kept."""
    notebook = nbformat.read(path, as_version=4)
    guide = f"{project_links.repository_url()}/blob/{project_links.BRANCH}/docs/instructor.md"
    for cell in notebook.cells:
        if cell.cell_type == "markdown":  # the guide is not on the site: link to it on GitHub
            cell.source = cell.source.replace("](../docs/instructor.md)", f"]({guide})")
        tags = cell.get("metadata", {}).get("tags", [])
        extra = [SITE_TAGS[tag] for tag in tags if tag in SITE_TAGS]
        if extra:
            cell.metadata["tags"] = list(dict.fromkeys([*tags, *extra]))
    return notebook


def build(out: Path, quiet: bool = True, extra_notebooks: tuple[Path, ...] = ()) -> Path:
    """Build the site into ``out`` and return the path of its ``index.html``.

    ``extra_notebooks`` are added as pages outside the learning path (tests use it).
    """
    from sphinx.cmd.build import build_main

    with tempfile.TemporaryDirectory(prefix="warmup-site-") as scratch:
        source = Path(scratch) / "source"
        source.mkdir()
        (source / "conf.py").write_text(
            CONF.format(widget=WIDGET_VIEW, repository=project_links.repository_url(), branch=project_links.BRANCH),
            encoding="utf-8",
        )
        (source / "index.md").write_text(index_page(), encoding="utf-8")
        paths = [ROOT / "notebooks" / f"{lesson.notebook}.ipynb" for lesson in series.lessons()]
        for path in [*paths, *extra_notebooks]:
            nbformat.write(site_notebook(path), source / path.name)
        if out.exists():
            shutil.rmtree(out)
        arguments = ["-b", "html", "-E", "-d", str(Path(scratch) / "doctrees"), str(source), str(out)]
        status = build_main([*arguments, "-q"] if quiet else arguments)
    if status != 0:
        raise RuntimeError(f"sphinx-build failed with status {status}")
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the HTML site (replaced if it exists)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    if args.out.resolve() in (ROOT, ROOT / "notebooks"):
        parser.error(f"OUT must be a folder of its own, not {args.out}")
    try:
        index = build(args.out, quiet=not args.verbose)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"site written: open {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
