"""Multi-label digits: the paper's canvas construction applied to scikit-learn's 8x8 digits.

Li, Li, Wang & Qu (*Neural Collapse in Multi-label Learning with Pick-all-label Loss*,
ICML 2024) build multi-label MNIST by pasting 28x28 MNIST digits into the corners of a 56x56
canvas and combining them with a pixel-wise maximum. :func:`make_multilabel_digits` applies
the same construction to the 8x8 images embedded in scikit-learn
(:func:`sklearn.datasets.load_digits`) on a 16x16 canvas, so it needs no network access. It is
not MNIST: the images are smaller, fewer (1,797) and easier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from ._frames import as_frames
from ._label_sets import plan_label_sets
from ._validation import LABEL_SET_CONSTRAINTS, check_rng

__all__ = ["make_multilabel_digits"]

_N_CLASSES = 10
_DIGIT_SIZE = 8
_CANVAS_SIZE = 2 * _DIGIT_SIZE
#: (row, column) offsets of the four corners: top-left, top-right, bottom-left, bottom-right.
_CORNERS = ((0, 0), (0, _DIGIT_SIZE), (_DIGIT_SIZE, 0), (_DIGIT_SIZE, _DIGIT_SIZE))
_SPLIT_SEED = 0


def _source_pool(subset: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    digits = load_digits()
    images = digits.images / 16.0
    target = digits.target
    split = np.random.RandomState(_SPLIT_SEED)
    pools = []
    for c in range(_N_CLASSES):
        idx = np.flatnonzero(target == c)
        idx = idx[split.permutation(len(idx))]
        half = (len(idx) + 1) // 2
        if subset == "train":
            idx = idx[:half]
        elif subset == "test":
            idx = idx[half:]
        pools.append(np.sort(idx))
    return images, target, pools


_DESCR = """\
Multi-label digits (MLab NC construction)
-----------------------------------------

The canvas construction of Li et al.'s multi-label MNIST (ICML 2024, arXiv 2310.15903),
applied to the 1,797 8x8 images of scikit-learn's ``load_digits`` (not to MNIST). The canvas
is 16x16 with four 8x8 corners.
A sample with label set S (|S| = m) shows m digits of the m distinct classes of S, each drawn
uniformly at random from the source pool of its class and pasted into m distinct random corners;
the digits are combined with a pixel-wise maximum. Pixels are scaled to [0, 1].

Source pool: ``subset='train'`` and ``subset='test'`` use disjoint halves of ``load_digits``
(a fixed, seed-independent, per-class split), so train and test canvases never share a source
image; ``subset='all'`` uses every image.

Counts: {counts}
Samples: {n_samples}; label sets: {n_sets}; subset: {subset}.
"""


@validate_params(
    {
        **LABEL_SET_CONSTRAINTS,
        "subset": [StrOptions({"train", "test", "all"})],
        "image_shape": [StrOptions({"flat", "2d"})],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_multilabel_digits(
    n_per_singleton: int = 100,
    n_per_set: int | Mapping[int, int] = 20,
    *,
    max_multiplicity: int = 2,
    label_sets: Iterable[Iterable[int]] | None = None,
    n_sets_per_multiplicity: int | Mapping[int, int] | None = None,
    imbalance: float | Mapping[int, float] | None = None,
    subset: Literal["train", "test", "all"] = "all",
    image_shape: Literal["flat", "2d"] = "flat",
    shuffle: bool = True,
    return_X_y: bool = False,
    as_frame: bool = False,
    random_state: int | np.random.RandomState | np.random.Generator | None = None,
) -> Bunch | tuple[Any, Any]:
    """Generate the paper's multi-label digits: 1 to 4 digits pasted into a 16x16 canvas.

    Each sample has a label set ``S`` of ``m = |S|`` distinct digit classes. Its image is a
    16x16 canvas (four 8x8 corners) holding ``m`` digit images from
    :func:`sklearn.datasets.load_digits`, one per class of ``S``, each in a distinct random
    corner, combined with a pixel-wise maximum (the canvas construction of Li et al.'s
    multi-label MNIST, ICML 2024, on 8x8 digits instead of 28x28 MNIST). A singleton ``{k}``
    is one digit ``k`` in a random corner.

    By default the data are balanced within each multiplicity, the setting of the paper's
    theorem: every singleton class has ``n_per_singleton`` samples and every label set of size
    ``m >= 2`` has ``n_per_set`` samples.

    Parameters
    ----------
    n_per_singleton : int, default=100
        Samples per singleton label set ``{k}``, ``k = 0..9``.
    n_per_set : int or dict of {int: int}, default=20
        Samples per label set of size ``m >= 2``; a dict ``{m: n}`` gives one count per
        multiplicity.
    max_multiplicity : int, default=2
        Largest label-set size, at most 4 (the number of corners).
    label_sets : iterable of iterables of int, default=None
        Explicit label sets to generate (singletons included only if listed). By default every
        singleton and the sets chosen by ``n_sets_per_multiplicity``.
    n_sets_per_multiplicity : int or dict of {int: int}, default=None
        Number of label sets of each size ``m >= 2`` (capped at ``C(10, m)``). ``None`` (or a
        multiplicity missing from the dict) uses all ``C(10, m)`` sets (45 pairs, 120 triples,
        210 quadruples). Fewer sets are chosen deterministically (independently of
        ``random_state``, so ``subset='train'`` and ``'test'`` share them) such that every label
        occurs in ``floor`` or ``ceil`` of ``n_sets * m / 10`` of them.
    imbalance : float >= 1 or dict of {int: float}, default=None
        Imbalance within each multiplicity: the sets of one size, in lexicographic order, get
        counts decaying geometrically from the nominal count ``n`` to ``n / imbalance`` (rounded,
        at least 1). A dict ``{m: ratio}`` applies it to selected multiplicities only. ``None``
        (or 1) keeps every multiplicity balanced.
    subset : {'train', 'test', 'all'}, default='all'
        Source images: two disjoint halves of ``load_digits`` (a fixed per-class split) for
        ``'train'`` and ``'test'``, so their canvases never share a source image, or all images.
    image_shape : {'flat', '2d'}, default='flat'
        ``'flat'``: ``data`` has shape ``(n_samples, 256)``; ``'2d'``: ``(n_samples, 1, 16, 16)``
        (channels first, ready for a convolutional network).
    shuffle : bool, default=True
        Shuffle the samples; otherwise they are ordered by label set (multiplicity first).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return ``data`` and ``target`` as pandas DataFrames (requires ``image_shape='flat'``);
        the Bunch then also has ``frame``.
    random_state : int, RandomState instance, numpy Generator or None, default=None
        Seed for the choice of source images, corners and shuffling.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With attributes

        - ``data``: float64 array in ``[0, 1]``, shape ``(n_samples, 256)`` or
          ``(n_samples, 1, 16, 16)`` (DataFrame if ``as_frame``);
        - ``target``: int64 label indicator matrix of shape ``(n_samples, 10)``;
        - ``images``: ``(n_samples, 16, 16)`` view of the canvases;
        - ``feature_names``: ``'pixel_{row}_{col}'``; ``target_names``: ``'0'`` .. ``'9'``;
        - ``label_sets``: list of ``(label_set, n_samples)`` pairs generated;
        - ``source_indices``: int array ``(n_samples, largest set size)``, the ``load_digits``
          row of each pasted digit (same order as the sorted label set), ``-1`` padded;
        - ``corners``: int array of the same shape, the corner of each pasted digit
          (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right), ``-1`` padded;
        - ``DESCR``: description.
    (data, target) : tuple
        If ``return_X_y`` is True.

    Examples
    --------
    >>> from sklearn_mlabnc.datasets import make_multilabel_digits
    >>> digits = make_multilabel_digits(random_state=0)
    >>> digits.data.shape, digits.target.shape
    ((1900, 256), (1900, 10))
    >>> sorted(set(digits.target.sum(axis=1).tolist()))
    [1, 2]
    >>> X, Y = make_multilabel_digits(
    ...     n_per_singleton=5, n_per_set=2, max_multiplicity=3, n_sets_per_multiplicity=10,
    ...     subset="train", image_shape="2d", return_X_y=True, random_state=0)
    >>> X.shape, Y.shape
    ((90, 1, 16, 16), (90, 10))
    """
    if as_frame and image_shape != "flat":
        raise ValueError("as_frame=True requires image_shape='flat'; pass image_shape='flat'.")
    plan = plan_label_sets(
        n_classes=_N_CLASSES,
        max_multiplicity=max_multiplicity,
        max_allowed_multiplicity=len(_CORNERS),
        n_per_singleton=n_per_singleton,
        n_per_set=n_per_set,
        label_sets=label_sets,
        n_sets_per_multiplicity=n_sets_per_multiplicity,
        imbalance=imbalance,
    )
    rng = check_rng(random_state)
    images, _, pools = _source_pool(subset)
    width = max(len(s) for s, _ in plan)

    n_samples = sum(n for _, n in plan)
    canvas = np.zeros((n_samples, _CANVAS_SIZE, _CANVAS_SIZE))
    target = np.zeros((n_samples, _N_CLASSES), dtype=np.int64)
    sources = np.full((n_samples, width), -1, dtype=np.int64)
    corners = np.full((n_samples, width), -1, dtype=np.int64)
    start = 0
    for label_set, n in plan:
        m = len(label_set)
        rows = slice(start, start + n)
        target[rows, list(label_set)] = 1
        # m distinct corners per sample: the first m of a random permutation of the 4 corners
        corners[rows, :m] = np.argsort(rng.random((n, len(_CORNERS))), axis=1)[:, :m]
        for j, k in enumerate(label_set):
            sources[rows, j] = rng.choice(pools[k], size=n, replace=True)
        block = canvas[rows]
        for j in range(m):
            digit = images[sources[rows, j]]
            for q, (r0, c0) in enumerate(_CORNERS):
                hit = corners[rows, j] == q
                window = block[hit, r0 : r0 + _DIGIT_SIZE, c0 : c0 + _DIGIT_SIZE]
                block[hit, r0 : r0 + _DIGIT_SIZE, c0 : c0 + _DIGIT_SIZE] = np.maximum(
                    window, digit[hit]
                )
        canvas[rows] = block
        start += n

    if shuffle:
        order = rng.permutation(n_samples)
        canvas, target, sources, corners = (a[order] for a in (canvas, target, sources, corners))

    flat = canvas.reshape(n_samples, -1)
    data = flat if image_shape == "flat" else canvas[:, np.newaxis, :, :]
    feature_names = [f"pixel_{r}_{c}" for r in range(_CANVAS_SIZE) for c in range(_CANVAS_SIZE)]
    target_names = [str(k) for k in range(_N_CLASSES)]
    frame = None
    if as_frame:
        data, target, frame = as_frames(flat, target, feature_names, target_names)
    if return_X_y:
        return data, target
    counts_text = ", ".join(
        f"m={m}: {sorted({n for s, n in plan if len(s) == m})} per set "
        f"x {sum(1 for s, _ in plan if len(s) == m)} sets"
        for m in sorted({len(s) for s, _ in plan})
    )
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        images=canvas,
        feature_names=feature_names,
        target_names=target_names,
        label_sets=plan,
        source_indices=sources,
        corners=corners,
        DESCR=_DESCR.format(
            counts=counts_text, n_samples=n_samples, n_sets=len(plan), subset=subset
        ),
    )
