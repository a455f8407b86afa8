"""Fail the docs build when a public name is missing from ``api.rst``.

Every name in ``sklearn_mlabnc.__all__`` and in the ``__all__`` of the public submodules
must appear in ``api.rst`` (under its canonical module, or in the table of top-level
re-exports). A missing one is reported as a Sphinx warning, which ``-W`` turns into an
error, so the API reference cannot silently fall behind the code.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

PUBLIC_MODULES = (
    "sklearn_mlabnc",
    "sklearn_mlabnc.backbones",
    "sklearn_mlabnc.callbacks",
    "sklearn_mlabnc.collapse",
    "sklearn_mlabnc.datasets",
    "sklearn_mlabnc.plotting",
    "sklearn_mlabnc.scorers",
    "sklearn_mlabnc.transformers",
    "sklearn_mlabnc.ufm",
    "sklearn_mlabnc.cli",
)


def missing_names(api_text: str) -> list[str]:
    """Public names (``module.name``) that ``api_text`` never mentions."""
    mentioned = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", api_text))
    missing = []
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            if name not in mentioned:
                missing.append(f"{modname}.{name}")
    return missing


def _check(app) -> None:
    api = Path(app.srcdir) / "api.rst"
    for name in missing_names(api.read_text(encoding="utf-8")):
        logger.warning("public name %s is not in the API reference; add it to docs/api.rst", name)


def setup(app):
    app.connect("builder-inited", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
