"""Classroom delivery: one repository URL behind every link, one timing source, the guide, the site."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from warmup_lib import series

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUIDE_PATH = ROOT / "docs" / "instructor.md"
GUIDE = GUIDE_PATH.read_text(encoding="utf-8")
LESSONS = series.lessons()


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


links = _tool("project_links")


def _notebook_markdown(name: str) -> str:
    notebook = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")


# ---------------------------------------------------------------------------------------------
# One repository URL


DOCUMENTS = {"README.md": README, "docs/instructor.md": GUIDE, "notebooks/00_start_here.ipynb": _notebook_markdown("00_start_here")}


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
def test_every_launch_link_is_derived_from_the_repository_url(document):
    text = DOCUMENTS[document]
    owner, name = links.owner_and_name()
    binder = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+", text)
    colab = re.findall(r"https://colab\.research\.google\.com/github/[^)\s]+", text)
    github = re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", text)
    pullers = re.findall(r"https://\S+/hub/user-redirect/git-pull\?\S+", text)
    assert binder, f"{document}: no Binder link"
    for url in binder:
        assert url.startswith(f"https://mybinder.org/v2/gh/{owner}/{name}/"), f"{document}: {url}"
        assert url == links.binder_url(url.split("urlpath=lab/tree/")[1]), f"{document}: {url}"
    for url in colab:
        assert url == links.colab_url(url.split(f"/blob/{links.BRANCH}/")[1]), f"{document}: {url}"
    for url in github:
        assert url == links.repository_url(), f"{document}: {url} is not the repository in pyproject.toml"
    for url in pullers:
        assert url == links.nbgitpuller_url(), f"{document}: {url}"
    if document != "README.md":
        assert colab, f"{document}: no Colab link"


def test_the_guide_gives_the_nbgitpuller_link():
    assert links.nbgitpuller_url() in GUIDE


@pytest.mark.parametrize("name", [lesson.notebook for lesson in LESSONS])
def test_every_notebook_starts_with_the_install_cell(name):
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert "install-if-missing" in first.metadata.get("tags", []), f"{name}: the first code cell is the install cell"
    assert first.source == links.install_cell(), (
        f"{name}: the install cell must be exactly what `python tools/project_links.py --install-cell` prints"
    )
    assert not first.get("outputs"), f"{name}: the install cell does nothing where warmup_lib is installed"


def test_links_are_well_formed():
    owner, name = links.owner_and_name()
    assert links.nbgitpuller_url("https://hub.example.org/").startswith("https://hub.example.org/hub/user-redirect/git-pull?repo=")
    assert f"lab%2Ftree%2F{name}%2Fnotebooks%2F00_start_here.ipynb" in links.nbgitpuller_url()
    assert f"!git clone --quiet --depth 1 https://github.com/{owner}/{name}.git" in links.install_cell()


# ---------------------------------------------------------------------------------------------
# One source of times


def test_the_series_file_is_read_and_validated(tmp_path):
    assert [lesson.notebook for lesson in LESSONS][0] == "00_start_here"
    assert all(lesson.student_minutes > 0 for lesson in LESSONS)
    bad = tmp_path / "series.csv"
    bad.write_text("notebook,title,student_minutes,run_seconds,peak_memory_mib\n02_x,X,thirty,,\n")
    with pytest.raises(ValueError, match=r"line 2, column student_minutes: expected a whole number"):
        series.lessons(bad)
    bad.write_text("notebook,title,minutes\n")
    with pytest.raises(ValueError, match="line 1: the header must be"):
        series.lessons(bad)


def test_record_measurements_keeps_the_hand_kept_columns(tmp_path):
    path = tmp_path / "series.csv"
    series.write_lessons(LESSONS, path)
    series.record_measurements({"02_lr_curves": (12.34, 432.6)}, path)
    updated = {lesson.notebook: lesson for lesson in series.lessons(path)}
    assert updated["02_lr_curves"].run_seconds == 12.3 and updated["02_lr_curves"].peak_memory_mib == 433
    assert [lesson.student_minutes for lesson in updated.values()] == [lesson.student_minutes for lesson in LESSONS]
    with pytest.raises(ValueError, match="add a row"):
        series.record_measurements({"09_new": (1.0, 1.0)}, path)


def _row(text: str, start: str) -> str:
    rows = [line for line in text.splitlines() if line.startswith(start)]
    assert len(rows) == 1, f"expected one table row starting with {start!r}, found {len(rows)}"
    return rows[0]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.notebook)
def test_readme_tables_quote_the_series_file(lesson):
    learn = _row(README, f"| `{lesson.notebook}` |")
    assert f"| {lesson.student_minutes} min |" in learn, f"README notebook table: {lesson.notebook}"
    speed = _row(README, f"| {lesson.notebook} |")
    assert f"| {lesson.run_seconds:.1f} | {lesson.peak_memory_mib} MiB |" in speed, f"README speed table: {lesson.notebook}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.notebook)
def test_guide_time_table_quotes_the_series_file(lesson):
    row = _row(GUIDE, f"| [{lesson.number} — {lesson.title}](../notebooks/{lesson.notebook}.ipynb) |")
    assert row.endswith(
        f"| {lesson.student_minutes} min | {lesson.run_seconds:.1f} s | {lesson.peak_memory_mib} MiB |"
    ), row


def test_guide_marks_unmeasured_notebooks_as_todo_only_in_the_time_table():
    table = GUIDE.split("## Time: for students and for the computer", 1)[1].split("\n## ", 1)[0]
    rest = GUIDE.replace(table, "")
    assert "TODO" not in rest, "TODO markers belong in the time table only"
    for line in table.splitlines():
        if "TODO" in line:
            assert not any(line.startswith(f"| [{lesson.number} ") for lesson in LESSONS), (
                f"a notebook that is in warmup_lib/series.csv has numbers; fill this row: {line}"
            )


def test_notebook_00_shows_the_series_file():
    notebook = nbformat.read(ROOT / "notebooks" / "00_start_here.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "series.learning_path()" in c.source)
    html = "".join(o["data"]["text/html"] for o in cell.outputs if o.get("output_type") == "execute_result")
    shown = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    for lesson in LESSONS:
        row = f"{lesson.notebook} {lesson.title} {lesson.student_minutes} {lesson.run_seconds}"
        assert row in shown, f"re-run notebook 00: its stored learning path does not show {row!r}"


# ---------------------------------------------------------------------------------------------
# The guide


def test_guide_covers_what_an_instructor_needs():
    for heading in (
        "## The learning path and prerequisites",
        "## Time: for students and for the computer",
        "### 45 minutes",
        "### 90 minutes",
        "## Misconceptions each notebook targets, and how to spot them",
        "## Where the answers are",
        "## Handing out student copies",
        "### Binder",
        "### A JupyterHub with nbgitpuller",
        "### Colab",
        "## For notebook authors: the conventions",
    ):
        assert heading in GUIDE, f"docs/instructor.md: missing {heading!r}"
    misconceptions = GUIDE.split("## Misconceptions", 1)[1].split("\n## ", 1)[0]
    for lesson in LESSONS:
        assert f"### {lesson.number} — {lesson.title}" in misconceptions, f"misconceptions of {lesson.notebook}"
    assert "python tools/student_copies.py" in GUIDE


def test_readme_says_how_students_instructors_and_readers_start():
    section = README.split("## Start here", 1)[1].split("\n## ", 1)[0]
    for who in ("Students", "Instructors", "Readers"):
        assert f"**{who}**" in section
    assert "docs/instructor.md" in section and "tools/build_site.py" in section


# ---------------------------------------------------------------------------------------------
# The static site

MACHINE_PATH = re.compile(r"/work/|/tmp/|/root/|/home/\w|site-packages|/\.venv/")


def _widget_notebook(tmp_path: Path) -> Path:
    """A notebook whose only output is an explorer: a widget view with a picture beside it."""
    import base64

    pixel = base64.b64encode(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )).decode()
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# A widget"),
        nbformat.v4.new_code_cell("explorer", execution_count=1, outputs=[nbformat.v4.new_output(
            "execute_result", execution_count=1, data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
                "image/png": pixel,
                "text/plain": "Explorer(children=(GridBox(...",
            })]),
    ]
    path = tmp_path / "zz_widget.ipynb"
    nbformat.write(notebook, path)
    return path


def test_site_hides_self_checks_install_and_starter_cells_and_folds_solutions():
    build_site = _tool("build_site")
    notebook = build_site.site_notebook(ROOT / "notebooks" / "03_loss_comparison.ipynb")
    expected = {"self-check": "remove-input", "install-if-missing": "remove-cell", "exercise": "remove-cell", "solution": "hide-input"}
    seen = set()
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        for tag, hidden in expected.items():
            if tag in tags:
                assert hidden in tags
                seen.add(tag)
    assert seen == set(expected)


@pytest.mark.slow
def test_site_builds_offline_with_a_page_per_notebook(tmp_path):
    pytest.importorskip("myst_nb")
    build_site = _tool("build_site")
    out = tmp_path / "site"
    index = build_site.build(out, extra_notebooks=(_widget_notebook(tmp_path),))
    home = index.read_text(encoding="utf-8")
    assert links.binder_url() in home and links.colab_url() in home
    for lesson in LESSONS:
        page = out / f"{lesson.notebook}.html"
        assert page.is_file(), f"no page for {lesson.notebook}"
        assert f'href="{lesson.notebook}.html"' in home
        html = page.read_text(encoding="utf-8")
        assert f"{lesson.number} —" in html, f"{lesson.notebook}: the page shows the notebook's title"
        assert "find_spec(&quot;warmup_lib&quot;)" not in html and 'find_spec("warmup_lib")' not in html, "install cell shown"
        assert "# your code here" not in html, f"{lesson.notebook}: starter cells belong to notebooks, not the site"
    for page in out.rglob("*.html"):
        found = MACHINE_PATH.search(page.read_text(encoding="utf-8"))
        assert not found, f"{page.relative_to(out)} shows a machine path: {found.group(0)!r}"
    widget_page = (out / "zz_widget.html").read_text(encoding="utf-8")
    assert "<img" in widget_page and "Explorer(children" not in widget_page, "an explorer must show its picture"
