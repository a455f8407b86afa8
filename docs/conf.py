"""Sphinx configuration of the sklearn_mlabnc documentation.

Build (runs every example of the gallery; no network access needed)::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

Set ``SPHINX_GALLERY_PLOT=0`` to build without running the examples.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import sklearn_mlabnc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))  # api_coverage, gallery_order

# The examples use one thread each: they are small, and the machines that build the docs
# are shared.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# Examples look for the MULAN data here (see examples/plot_mulan_emotions.py).
_shared = HERE.parent.parent / "shared" / "data" / "mulan"
if "MLABNC_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["MLABNC_DATA_DIR"] = str(_shared)

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
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "api_coverage",  # docs/_ext: every public name must be in api.rst
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
nitpicky = False
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

# -- sphinx-gallery ------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
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
}

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
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    # Nothing fetched from the web at build time: no version switcher, no icon links.
    "icon_links": [],
}
html_sidebars = {
    "index": [],
    "install": [],
    "quickstart": [],
    "cli": [],
    "citing": [],
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


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("source-read", _benchmarks_page)
