"""pandas output of the dataset functions (``as_frame=True``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["as_frames"]


def as_frames(
    data: Any, target: Any, feature_names: Sequence[str], target_names: Sequence[str]
) -> tuple[Any, Any, Any]:
    """``(X, Y, frame)`` DataFrames: features, targets, and both side by side.

    ``data`` is a 2-D array or a mapping from feature name to column (columns may then have
    different dtypes, e.g. strings beside numbers).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.datasets._frames import as_frames
    >>> X, Y, frame = as_frames(np.zeros((2, 1)), np.eye(2, dtype=int), ["f"], ["a", "b"])
    >>> list(frame.columns), Y.shape
    (['f', 'a', 'b'], (2, 2))
    """
    import pandas as pd

    X = pd.DataFrame(data, columns=list(feature_names))
    Y = pd.DataFrame(target, columns=list(target_names))
    return X, Y, pd.concat([X, Y], axis=1)
