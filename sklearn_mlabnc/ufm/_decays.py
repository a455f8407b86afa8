r"""The UFM's feature penalty from an estimator's ``feature_decay``, and each problem's name.

:class:`~sklearn_mlabnc.MLabNCClassifier` adds ``feature_decay * mean_i ||h_i||^2`` to the
loss (a per-sample mean), while the UFM objective carries
:math:`\frac{\lambda_H}{2}\sum_i \|h_i\|^2`; the two agree when
:math:`\lambda_H = 2\,\texttt{feature\_decay}/N`. The UFM functions take either: the
estimator's ``feature_decay`` (same name, same meaning) or the UFM's own ``lambda_h``.
"""

from __future__ import annotations

__all__ = ["DEFAULT_LAMBDA_H", "describe_problem", "feature_penalty"]

#: :math:`\lambda_H` used when neither ``feature_decay`` nor ``lambda_h`` is given.
DEFAULT_LAMBDA_H = 1e-3

_LOSS_NAMES = {"pal": "PAL", "pal_normalized": "PAL-N", "bce": "BCE"}


def feature_penalty(
    feature_decay: float | None, lambda_h: float | None, n_samples: int
) -> tuple[float, float]:
    r"""``(lambda_h, feature_decay)`` from whichever of the two was given.

    Examples
    --------
    >>> from sklearn_mlabnc.ufm._decays import feature_penalty
    >>> feature_penalty(0.03, None, 1900)  # the estimator's per-sample value
    (3.157894736842105e-05, 0.03)
    >>> feature_penalty(None, 1e-3, 10)
    (0.001, 0.005)
    """
    if feature_decay is not None and lambda_h is not None:
        raise ValueError(
            "Give either feature_decay (the estimator's per-sample penalty, "
            "lambda_H = 2 feature_decay / N) or lambda_h (the UFM's lambda_H), not both; "
            f"got feature_decay={feature_decay!r} and lambda_h={lambda_h!r}."
        )
    if feature_decay is not None:
        return 2.0 * float(feature_decay) / n_samples, float(feature_decay)
    lam_h = DEFAULT_LAMBDA_H if lambda_h is None else float(lambda_h)
    return lam_h, lam_h * n_samples / 2.0


def describe_problem(
    *,
    solver: str,
    loss: str,
    fixed_classifier: str | None,
    weight_decay: float,
    lambda_h: float,
    feature_decay: float,
    bias_decay: float | None,
) -> str:
    """One line naming the UFM problem a solution solved, for reports and figures.

    Examples
    --------
    >>> from sklearn_mlabnc.ufm._decays import describe_problem
    >>> print(describe_problem(solver="reduced", loss="pal", fixed_classifier="the unit ETF",
    ...       weight_decay=5e-3, lambda_h=3e-5, feature_decay=0.03, bias_decay=None))
    ... # doctest: +NORMALIZE_WHITESPACE
    reduced UFM, PAL, W fixed to the unit ETF (H, b free), lambda_W=0.005,
    lambda_H=3e-05 (feature_decay=0.03), b=0
    """
    head = (
        "W learned" if fixed_classifier is None else f"W fixed to {fixed_classifier} (H, b free)"
    )
    bias = "b=0" if bias_decay is None else f"lambda_b={bias_decay:g}"
    return (
        f"{solver} UFM, {_LOSS_NAMES[loss]}, {head}, lambda_W={weight_decay:g}, "
        f"lambda_H={lambda_h:.4g} (feature_decay={feature_decay:.4g}), {bias}"
    )
