"""Sphinx configuration of the sklearn_mlabnc documentation.

Build (runs every example of the gallery; no network access needed, neither to build nor
to read the pages: MathJax is served from the site itself)::

    pip install -e ".[docs]"
    python -m sphinx -W -n --keep-going -b html docs docs/_build/html

Set ``SPHINX_GALLERY_PLOT=0`` to build without running the examples.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

# The examples are small: one thread each is as fast as several, and quieter on the CPU.
# Set before torch is imported, which reads it once.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sklearn_mlabnc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))  # api_coverage, gallery_order, site_checks

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the docs extra installs tomli
    import tomli as tomllib

# The repository and issue tracker are configured once, in pyproject.toml [project.urls].
with open(HERE.parent / "pyproject.toml", "rb") as _f:
    PROJECT_URLS = tomllib.load(_f)["project"]["urls"]
REPOSITORY_URL = PROJECT_URLS["Repository"]
ISSUES_URL = PROJECT_URLS["Issues"]

# -- Project -------------------------------------------------------------------------------
project = "sklearn_mlabnc"
author = "the sklearn_mlabnc developers"
copyright = "the sklearn_mlabnc developers"
release = sklearn_mlabnc.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 copied into _static/mathjax: formulas render with no network access.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "sphinx_copybutton",
    "api_coverage",  # docs/_ext: every public name must be in api.rst
    "site_checks",  # docs/_ext: no CDN, no internal notes in the built pages
]
# No sphinx.ext.intersphinx: the build must not need the network.

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_templates",
    "_ext",
    "Thumbs.db",
    ".DS_Store",
    # Included by benchmarks_page.md, not a page of its own.
    "benchmarks.md",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]
# Every cross-reference inside the project must resolve (the build runs with -n -W). Only
# names from other libraries, which this build cannot link without intersphinx, and the
# type vocabulary of numpydoc docstrings are ignored.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(torch|numpy|np|scipy|sklearn|skorch|pandas|dask|distributed|joblib"
        r"|matplotlib|safetensors|collections|functools|typing|os|pathlib)(\..*)?",
    ),
    (
        r"py:.*",
        r"(array-like|array_like|sparse matrix|ndarray|Tensor|Module|DataFrame"
        r"|Figure|Axes|Bunch|Generator|RandomState|PathLike|path-like|callable|iterable"
        r"|optional|default.*|of|or|shape|tuple|list|dict|str|int|float|bool|None|object"
        r"|type|Path|Callable|Iterable|Iterator|Literal|Sequence|Mapping|Any)",
    ),
]
default_role = "literal"
pygments_style = "sphinx"
# NumPy-style docstrings put the full names in the Parameters section.
add_module_names = False
python_display_short_literal_types = True

# -- autodoc / autosummary -----------------------------------------------------------------
autosummary_generate = True  # stubs go to docs/generated/ (git-ignored)
autosummary_imported_members = False
autodoc_typehints = "none"  # the numpydoc sections give the types
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # no torch/skorch base-class docstrings on overrides

# -- numpydoc ------------------------------------------------------------------------------
numpydoc_show_class_members = False  # the class template lists members itself
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- MyST ----------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# -- Links and copy button -----------------------------------------------------------------
rst_epilog = f"""
.. |repository_url| replace:: {REPOSITORY_URL}
.. _repository: {REPOSITORY_URL}
.. _issue tracker: {ISSUES_URL}
"""
# The copy button leaves out shell and Python prompts and the output lines after them.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_exclude = ".linenos, .gp, .go"

# -- sphinx-gallery ------------------------------------------------------------------------
# The MULAN example needs data that is not shipped: it runs when MLABNC_DATA_DIR names a
# folder holding the emotions files, and is shown as code only (never as a failure)
# otherwise.
MULAN_EXAMPLE = "plot_mulan_emotions.py"
_data_dir = os.environ.get("MLABNC_DATA_DIR", "")
HAVE_MULAN = bool(_data_dir) and (Path(_data_dir).expanduser() / "emotions-train.arff").is_file()
if not HAVE_MULAN:
    # sphinx-gallery reuses an example's page while its checksum file says the source is
    # unchanged, so results from a build that had the data would outlive the data.
    (HERE / "auto_examples" / f"{MULAN_EXAMPLE}.md5").unlink(missing_ok=True)
EXECUTED = r"/plot_" if HAVE_MULAN else rf"/plot_(?!{MULAN_EXAMPLE[5:-3]})"

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": EXECUTED,
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "image_scrapers": ("matplotlib",),
    # Failing examples are collected and fail the build at its end.
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "plot_gallery": os.environ.get("SPHINX_GALLERY_PLOT", "True"),
    "doc_module": ("sklearn_mlabnc",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "capture_repr": ("_repr_html_", "__repr__"),
    "matplotlib_animations": False,
    "show_memory": False,
    "download_all_examples": True,
    "min_reported_time": 1,
    # Thumbnails drawn at twice the size they are shown, so that they stay sharp.
    "thumbnail_size": (480, 340),
    # No execution-time pages: sphinx-gallery builds them with scripts and styles from CDNs.
    "write_computation_times": False,
}


# Warnings an example raises show on its page as "Category: message": the default format
# would also print the path of the file that raised it, on the machine that built the docs.
def _format_warning(message, category, filename, lineno, line=None):
    return f"{category.__name__}: {message}\n"


warnings.formatwarning = _format_warning

# Matplotlib without a display, and quiet about the non-GUI backend in the examples.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings(
    "ignore",
    message="FigureCanvasAgg is non-interactive",
    category=UserWarning,
)

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_mlabnc {release}"
html_static_path = ["_static"]  # the landing figure, benchmark charts and custom.css
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    # Nothing fetched from the web, at build time or by the pages: no version switcher;
    # the icon is the theme's bundled Font Awesome.
    "icon_links": [
        {"name": "Source repository", "url": REPOSITORY_URL, "icon": "fa-brands fa-github"},
    ],
}
html_sidebars = {
    "index": [],
    "install": [],
    "quickstart": [],
    "cli": [],
    "citing": [],
    "changes": [],
    "benchmarks_page": [],
}
html_context = {"default_mode": "light"}


# -- Hooks ---------------------------------------------------------------------------------
def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters (``set_*_request``).

    Their docstrings point into scikit-learn's own documentation, which this build does
    not fetch; they are documented there.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def _benchmarks_page(app, docname, source):
    """Give ``benchmarks_page`` a title, and a placeholder while ``benchmarks.md`` is absent.

    ``docs/benchmarks.md`` is written by the benchmark maintainers; the page includes it
    whatever its state, so the site builds before it exists and whether or not it starts
    with a heading.
    """
    if docname != "benchmarks_page":
        return
    path = Path(app.srcdir) / "benchmarks.md"
    if not path.is_file():
        source[0] = (
            "# Benchmarks\n\nThe benchmark results (`docs/benchmarks.md`, from the scripts "
            "in `benchmarks/`) are not written yet.\n"
        )
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        source[0] = "# Benchmarks\n\n" + source[0]


def _public_bases(app, name, obj, options, bases):
    """Leave the package's private mixins out of the "Bases:" line (their methods are shown
    as the class's own)."""
    bases[:] = [b for b in bases if not b.__module__.startswith("sklearn_mlabnc._")]


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("source-read", _benchmarks_page)
