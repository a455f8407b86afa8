"""Fail the docs build when a public name is missing from the API reference.

The public modules are found by walking the package itself: ``sklearn_mlabnc`` and every
module or subpackage under it whose dotted path has no component starting with an
underscore. Every name in the ``__all__`` of each of them must appear in ``api.rst`` or
its module pages ``api/*.rst``
(under its canonical module, or in the table of top-level re-exports), and every public
module must have its own section (``.. automodule:: NAME``). A miss is reported as a Sphinx
warning, which ``-W`` turns into an error, so the API reference cannot fall behind the code,
and a new public module cannot be forgotten.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

PACKAGE = "sklearn_mlabnc"


def public_modules(package: str = PACKAGE) -> list[str]:
    """Dotted names of the package and its public modules and subpackages, sorted."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.", onerror=_raise):
        if info.name.split(".")[-1] == "__main__":
            continue
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _raise(name: str) -> None:
    raise ImportError(f"cannot import {name} while listing the public modules")


def missing_names(api_text: str) -> list[str]:
    """Public modules without a section, and public names (``module.name``) never mentioned."""
    mentioned = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", api_text))
    sections = set(re.findall(r"^\.\. automodule:: *(\S+)", api_text, flags=re.MULTILINE))
    missing = []
    for modname in public_modules():
        if modname not in sections:
            missing.append(f"{modname} (module section: '.. automodule:: {modname}')")
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            if name not in mentioned:
                missing.append(f"{modname}.{name}")
    return missing


def api_text(srcdir: str | Path) -> str:
    """The API reference's sources: ``api.rst`` and its module pages ``api/*.rst``."""
    srcdir = Path(srcdir)
    pages = [srcdir / "api.rst", *sorted((srcdir / "api").glob("*.rst"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages)


def _check(app) -> None:
    for name in missing_names(api_text(app.srcdir)):
        logger.warning(
            "public name %s is not in the API reference; add it to its page in docs/api/",
            name,
        )


def setup(app):
    app.connect("builder-inited", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
