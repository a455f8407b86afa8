"""Plots of multi-label neural collapse (MLab NC): curves, geometry, ETF heads, label sets.

matplotlib is an optional dependency (``pip install sklearn-mlabnc[plot]``); it is imported
inside the functions, so importing this package never needs it and nothing else in
:mod:`sklearn_mlabnc` imports it. It draws only: every collapse number it shows comes from
:mod:`sklearn_mlabnc.collapse`, the only part of the library it imports (the reliability
diagram bins the probabilities it is given).

Every function draws into the axes it is given (``ax`` / ``axes``) or creates a new figure
with :func:`matplotlib.pyplot.subplots`, and always returns the
:class:`~matplotlib.figure.Figure` it drew on (``fig.axes`` gives the panels). Figures created
here use the constrained layout; call ``fig.savefig(...)`` or ``plt.show()`` as usual.

- :func:`plot_collapse_curves`: NC metrics recorded by
  :class:`~sklearn_mlabnc.callbacks.CollapseMonitor` against the epoch, one panel per
  metric and one line per run (e.g. a learned head against a fixed ETF head).
- :func:`plot_geometry`: the singleton means, the label-set means and their tag-wise-average
  predictions ``c_m * mean_{k in S} mu_k`` (and optionally the classifier rows) in a 2-D or
  3-D PCA projection.
- :func:`plot_etf_comparison`: pairwise cosines of classifier rows against the simplex-ETF
  value ``-1/(K-1)``, one heatmap per model.
- :func:`plot_tagwise`: the tag-wise average without a projection: each label set's angle
  to the sum of its singleton means, and the fitted ``c_m`` against ``m``.
- :func:`plot_label_statistics`: samples per multiplicity and per label set, flagging
  imbalance within a multiplicity (the UFM theorem assumes balance there).
- :class:`MultilabelReliabilityDisplay`: reliability diagram of per-label probabilities
  (``predict_proba``), pooled over labels plus chosen or worst-calibrated labels, in
  scikit-learn's ``Display`` style (``from_estimator``, ``from_predictions``, ``plot``).
"""

from ._curves import plot_collapse_curves
from ._geometry import plot_geometry
from ._heads import plot_etf_comparison
from ._labels import plot_label_statistics
from ._reliability import MultilabelReliabilityDisplay
from ._tagwise import plot_tagwise

__all__ = [
    "MultilabelReliabilityDisplay",
    "plot_collapse_curves",
    "plot_etf_comparison",
    "plot_geometry",
    "plot_label_statistics",
    "plot_tagwise",
]
