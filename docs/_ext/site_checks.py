"""Checks of the documentation: readable offline, tables that render, code that fits.

Every problem is a Sphinx warning, which ``-W`` turns into a failed build:

- **offline**: no page loads a script, style sheet or font from another host (a CDN), and
  the MathJax files the pages load are part of the site (``_static/mathjax``);
- **tables**: every markdown table of the sources has as many cells in each row as in its
  header and separator (a mismatch makes the parser print the table as raw text), and no
  built page shows a table's separator row as text;
- **no commit hashes** in the visible text of the pages: they mean nothing to a reader;
- **no broken example**: no gallery page shows a Python traceback, and no page shows
  sphinx-gallery's picture of a failed example or the path of the checkout the site was
  built from;
- **code that fits its box**: no line of a code block on a hand-written page is longer than
  :data:`CODE_WIDTH` characters (the gallery's sources are held to the same width by
  ``examples/ruff.toml``; the API pages by the docstrings' own line length).

The same functions are used by ``tests/test_docs_build.py`` on an already built site.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

# <script src=...>, <link href=...> (style sheets, fonts, preloads) and CSS url(...) that
# point to another host: absolute http(s) or protocol-relative URLs.
_REMOTE_ASSET = re.compile(
    r"""<script\b[^>]*\bsrc\s*=\s*["']?(?P<a>(?:https?:)?//[^"' >]+)"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?(?P<b>(?:https?:)?//[^"' >]+)"""
    r"""|\burl\(\s*["']?(?P<c>(?:https?:)?//[^"')]+)""",
    re.IGNORECASE,
)
# Hosts that serve scripts, styles or fonts, wherever they appear in a page.
_CDN_HOSTS = re.compile(
    r"cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com|unpkg\.com|fonts\.googleapis\.com"
    r"|fonts\.gstatic\.com|polyfill\.io|mathjax\.org",
    re.IGNORECASE,
)

# A commit hash: 7 to 40 hex digits with at least one letter and one digit, as a word.
_COMMIT_HASH = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b")

# Characters of code that the theme's code boxes show without a horizontal scrollbar.
CODE_WIDTH = 88

_INVISIBLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def visible_text(page: str) -> str:
    """The text of an HTML page as a reader sees it: no tags, scripts or styles."""
    return html.unescape(_TAG.sub(" ", _INVISIBLE.sub(" ", page)))


def remote_assets(page: str) -> list[str]:
    """URLs of scripts, style sheets and fonts that a page loads from another host."""
    found = [m.group("a") or m.group("b") or m.group("c") for m in _REMOTE_ASSET.finditer(page)]
    # Plain links to other sites (<a href>) are fine; a CDN host anywhere else is not.
    for line in page.splitlines():
        if _CDN_HOSTS.search(line) and "<a " not in line and not any(u in line for u in found):
            found.append(line.strip()[:120])
    return found


def commit_hashes(page: str) -> list[str]:
    """The commit hashes in the visible text of a page, in context."""
    text = visible_text(page)
    return [
        " ".join(text[max(m.start() - 40, 0) : m.end() + 40].split())
        for m in _COMMIT_HASH.finditer(text)
    ]


# A markdown table's separator row (``|---|:--:|``), as the parser leaves it when it
# could not read the table.
_SEPARATOR_AS_TEXT = re.compile(r"\|(?:\s*:?-{3,}:?\s*\|)+")


def raw_tables(page: str) -> list[str]:
    """Markdown tables that a page shows as raw text, by the start of their separator row."""
    text = visible_text(page)
    return [m.group() for m in _SEPARATOR_AS_TEXT.finditer(text)]


def _cells(row: str) -> int:
    """Number of cells of a markdown table row (``\\|`` and pipes in code do not count)."""
    row = re.sub(r"`[^`]*`", "code", row.strip())
    row = row.replace("\\|", "")
    return len(row.strip("|").split("|"))


def malformed_tables(markdown: str) -> list[tuple[int, str]]:
    """``(line, problem)`` for every table of a markdown text whose rows disagree in width.

    A table is a run of lines starting with ``|`` whose second line is a separator row;
    its header sets the number of columns.
    """
    problems = []
    lines = markdown.splitlines()
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and lines[end].lstrip().startswith("|"):
            end += 1
        block = lines[start:end]
        if len(block) >= 2 and set(block[1].replace("|", "").strip()) <= set("-: "):
            width = _cells(block[0])
            for offset, row in enumerate(block[1:], start=1):
                if _cells(row) != width:
                    problems.append(
                        (
                            start + offset + 1,
                            f"{_cells(row)} cells where the header has {width}",
                        )
                    )
        start = max(end, start + 1)
    return problems


_TRACEBACK = "Traceback (most recent call last)"
_BROKEN_THUMBNAIL = "broken_example.png"


def broken_examples(page: str, gallery: bool = True) -> list[str]:
    """Signs that a page shows a failed example: a traceback, the BROKEN thumbnail.

    Tracebacks count on the gallery's pages only: a docstring may show the error that a
    wrong call raises.
    """
    found = []
    if gallery and _TRACEBACK in visible_text(page):
        found.append("a Python traceback")
    if _BROKEN_THUMBNAIL in page:
        found.append("the thumbnail of a failed example")
    return found


def site_problems(outdir: str | Path, checkout: str | Path | None = None) -> list[str]:
    """Every problem of the built site in ``outdir``, one line each.

    With ``checkout``, the folder the docs are built from: no page may show that path (a
    warning or traceback of an example prints the files of the machine that built it).
    """
    outdir = Path(outdir)
    problems = []
    if not (outdir / "_static" / "mathjax" / "tex-chtml.js").is_file():
        problems.append("_static/mathjax/tex-chtml.js is missing: MathJax is not bundled")
    for path in sorted(outdir.rglob("*.html")):
        page = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(outdir)
        for url in remote_assets(page):
            problems.append(f"{rel}: loads {url} from another host; serve it from _static")
        for context in commit_hashes(page):
            problems.append(f"{rel}: commit hash in the text: ...{context}...")
        if checkout is not None and str(checkout) in visible_text(page):
            problems.append(f"{rel}: shows the path of the checkout it was built from")
        for sign in broken_examples(page, gallery=rel.parts[0] == "auto_examples"):
            problems.append(f"{rel}: shows {sign}")
        for context in raw_tables(page):
            problems.append(f"{rel}: a table shown as raw text: {context}...")
    return problems


def _check_code_width(app, doctree, docname: str) -> None:
    if docname.startswith(("generated/", "auto_examples/")):
        return  # checked at their sources (docstrings, examples/ruff.toml)
    for block in doctree.findall(nodes.literal_block):
        for line in block.astext().splitlines():
            if len(line) > CODE_WIDTH:
                logger.warning(
                    "code line of %d characters (at most %d fit the box): %s",
                    len(line),
                    CODE_WIDTH,
                    line[:60],
                    location=block,
                )


def _check_tables(app) -> None:
    srcdir = Path(app.srcdir)
    for path in sorted(srcdir.rglob("*.md")):
        if "_build" in path.relative_to(srcdir).parts:
            continue
        for line, problem in malformed_tables(path.read_text(encoding="utf-8")):
            logger.warning("malformed table: %s", problem, location=(str(path), line))


def _check(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    for problem in site_problems(app.outdir, checkout=Path(app.srcdir).parent):
        logger.warning("site check: %s", problem)


def setup(app):
    # After the default priority (500), so that the MathJax files have been copied.
    app.connect("builder-inited", _check_tables)
    app.connect("build-finished", _check, priority=900)
    app.connect("doctree-resolved", _check_code_width)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
