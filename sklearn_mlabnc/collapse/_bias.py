r"""The bias metric of a collapse report: the bias's spread against the logits' scale, or a ratio.

Softmax is invariant to adding a constant to every logit, so the PAL gradients of the bias
sum to zero over the outputs: :math:`\bar b` (the mean of :math:`b`) stays at its initial
value, or decays to 0 under weight decay, and at the PAL optimum :math:`b = 0`. The ratio
:math:`\|b - \bar b\|/\|b\|` then sits near 1 whatever :math:`b` does, and is 0/0 at the
optimum. The default ``"logit_scale"`` metric measures what the softmax sees instead: the
root-mean-square of :math:`b - \bar b` over that of the mean-removed logits
:math:`W\mu_k - \overline{W\mu_k}` of the singleton means :math:`\mu_k`. It is 0 when the
bias is constant (PAL's and BCE's UFM optima both have a constant bias) and 1 when the bias
varies as much as the logits of a class mean. ``"ratio"`` keeps
:math:`\|b - \bar b\|/\|b\|`, meaningful when the bias mean matters (BCE).
"""

from __future__ import annotations

import math

import numpy as np

from ._summary import CollapseSummary, require_singletons, warn_nan

__all__ = ["BIAS_METRICS", "bias_deviation_from_summary"]

#: The bias metrics a report can show (the ``bias_metric`` report option).
BIAS_METRICS = ("logit_scale", "ratio")


def bias_deviation_from_summary(
    s: CollapseSummary, W: np.ndarray | None, b: np.ndarray, metric: str
) -> float:
    """The report's ``bias_deviation`` under ``metric`` (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import CollapseStatistics
    >>> from sklearn_mlabnc.collapse._bias import bias_deviation_from_summary
    >>> s = CollapseStatistics().partial_fit(np.eye(2) * 3, np.eye(2)).summary()
    >>> W, b = np.eye(2), np.array([0.5, -0.5])
    >>> bias_deviation_from_summary(s, W, b, "logit_scale")  # logits of the means: +-1.5
    0.3333333333333333
    >>> bias_deviation_from_summary(s, W, b, "ratio")
    1.0
    """
    centred_b = b - b.mean()
    if metric == "ratio":
        nb = float(np.linalg.norm(b))
        return float(np.linalg.norm(centred_b) / nb) if nb > 0 else 0.0
    if W is None:
        warn_nan("bias_deviation (logit_scale) is NaN: it needs the classifier weights W")
        return math.nan
    idx = require_singletons(s, "bias_deviation (logit_scale)")
    if idx is None:
        return math.nan
    means = s.sums[idx] / s.counts[idx, None] + s.shift
    logits = means @ W.T
    logits = logits - logits.mean(axis=1, keepdims=True)
    scale = float(np.sqrt(np.mean(logits**2)))
    spread = float(np.sqrt(np.mean(centred_b**2)))
    if scale == 0.0:
        if spread == 0.0:
            return 0.0
        warn_nan("bias_deviation (logit_scale) is NaN: the logits of the class means are 0")
        return math.nan
    return spread / scale
