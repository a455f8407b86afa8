"""Checks of the built documentation site, and of the checks themselves.

The site checks (no CDN, MathJax bundled, no internal notes) run inside the Sphinx build
(``docs/_ext/site_checks.py``); here they run again on ``docs/_build/html`` when a build is
there, and their detectors are tested on small pages either way.
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


@pytest.mark.parametrize(
    "text",
    [
        "No GPU was lent to the sessions that wrote this page",
        "echo /.whl/ >> .git/info/exclude",
        'run it with carry=[".whl"]',
        "before (commit 77749e7)",
        "measured on the development machine",
    ],
)
def test_internal_notes_found(text):
    assert site_checks.internal_notes(f"<p>{text}</p>")


@pytest.mark.parametrize(
    "text",
    [
        "the colour #1f77b4 and 0x7f3a2b1c",  # no word-bounded hex with letters and digits
        "1234567 samples, 10⁶ rows, float64",
        "the parameters carry over to a GPU",
        "CAFEBABE in upper case is not a commit hash",
    ],
)
def test_no_false_positives(text):
    page = f"<p>{text}</p><script>var session = 'deadbeef1';</script>"
    assert site_checks.internal_notes(page) == []


@pytest.mark.skipif(not HTML.is_dir(), reason="docs not built (docs/_build/html)")
def test_built_site_is_clean():
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert site_checks.site_problems(HTML) == []
    page = (HTML / "user_guide" / "collapse.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in page
