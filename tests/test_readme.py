"""The README's Python examples run as written, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


@pytest.mark.skipif(not README.is_file(), reason="README.md is not beside the tests")
def test_readme_python_examples_run(capsys):
    blocks = _python_blocks()
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    clf, X = namespace["clf"], namespace["X"]
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 10) and ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(clf.predict_label_distribution(X[:5]).sum(axis=1), 1, atol=1e-6)
    assert "nc1" in capsys.readouterr().out  # the printed collapse report
