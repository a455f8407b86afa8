"""Checks of the built documentation site, and of the checks themselves.

The site checks (no CDN, MathJax bundled, tables that render, no commit hashes) run inside
the Sphinx build (``docs/_ext/site_checks.py``); here they run again on
``docs/_build/html`` when a build is there, and their detectors are tested on small pages
either way.
"""

import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
HTML = DOCS / "_build" / "html"
sys.path.insert(0, str(DOCS / "_ext"))
site_checks = pytest.importorskip("site_checks", reason="needs Sphinx (the docs extra)")


def test_remote_assets_found():
    page = (
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>'
        '<link href="//fonts.googleapis.com/css?family=Lato" rel="stylesheet">'
        '<script src="_static/mathjax/tex-chtml.js"></script>'
        '<a href="https://github.com/sklearn-mlabnc/sklearn-mlabnc">repository</a>'
    )
    assert site_checks.remote_assets(page) == [
        "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js",
        "//fonts.googleapis.com/css?family=Lato",
    ]


def test_commit_hash_found():
    assert site_checks.commit_hashes("<p>fixed in 77749e7, see the notes</p>")


@pytest.mark.parametrize(
    "text",
    [
        "the colour #1f77b4 and 0x7f3a2b1c",  # no word-bounded hex with letters and digits
        "1234567 samples, 10⁶ rows, float64",
        "CAFEBABE in upper case is not a commit hash",
    ],
)
def test_no_false_positives(text):
    page = f"<p>{text}</p><script>var id = 'deadbeef1';</script>"
    assert site_checks.commit_hashes(page) == []


def test_malformed_table_found():
    markdown = """Text.

| data | model | micro-F1 |
|---|---|
| emotions | `a|b` | 0.7 |
| yeast | mlp | 0.6 | 0.1 |

| ok | table |
|---:|:---|
| `x \\| y` | 1 |
"""
    assert site_checks.malformed_tables(markdown) == [
        (4, "2 cells where the header has 3"),
        (6, "4 cells where the header has 3"),
    ]


def test_sources_have_no_malformed_table():
    for path in sorted(DOCS.rglob("*.md")):
        if "_build" not in path.parts:
            assert site_checks.malformed_tables(path.read_text(encoding="utf-8")) == [], path


def test_raw_table_found():
    page = "<p>| data | model |\n|---|:---:|\n| a | b |</p><table><tr><td>1</td></tr></table>"
    assert site_checks.raw_tables(page) == ["|---|:---:|"]
    assert site_checks.raw_tables("<p>a - b | c --- d</p>") == []


def test_checkout_path_found(tmp_path):
    site = tmp_path / "html"
    (site / "_static" / "mathjax").mkdir(parents=True)
    (site / "_static" / "mathjax" / "tex-chtml.js").write_text("")
    (site / "page.html").write_text(f"<pre>{tmp_path}/pkg/mod.py:10: UserWarning: x</pre>")
    assert site_checks.site_problems(site, checkout=tmp_path) == [
        "page.html: shows the path of the checkout it was built from"
    ]
    assert site_checks.site_problems(site) == []


def test_broken_example_found():
    page = (
        '<div class="highlight"><pre>Traceback (most recent call last):\n  File ...</pre>'
        '</div><img src="_static/broken_example.png">'
    )
    assert site_checks.broken_examples(page) == [
        "a Python traceback",
        "the thumbnail of a failed example",
    ]
    assert site_checks.broken_examples("<p>The example runs without a traceback.</p>") == []
    # a docstring's example of an error, outside the gallery
    assert site_checks.broken_examples(page, gallery=False) == [
        "the thumbnail of a failed example"
    ]


@pytest.mark.skipif(not HTML.is_dir(), reason="docs not built (docs/_build/html)")
def test_built_site_is_clean():
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert site_checks.site_problems(HTML, checkout=DOCS.parent) == []
    page = (HTML / "user_guide" / "collapse.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in page
