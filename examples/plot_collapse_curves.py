"""
====================================
Collapse curves: learned vs ETF head
====================================

Neural collapse is a statement about the end of training. With ``collapse_every=k``,
:class:`~sklearn_mlabnc.MLabNCClassifier` measures the collapse metrics of the training
features after the first epoch, every ``k`` epochs and at the end, so the approach can
be watched. Here a network with a learned linear classifier and one with a fixed
simplex-ETF classifier (``d = K``) are trained on the same multi-label digits.
"""

# %%
import matplotlib.pyplot as plt

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.collapse import collapse_curves
from sklearn_mlabnc.datasets import make_multilabel_digits
from sklearn_mlabnc.plotting import plot_collapse_curves

X, Y = make_multilabel_digits(
    n_per_singleton=50, n_per_set=8, subset="train", return_X_y=True, random_state=0
)

common = dict(
    hidden_layer_sizes=(128, 128),
    lr=3e-3,
    max_epochs=30,
    collapse_every=3,
    feature_decay=0.0128,
    random_state=0,
)
models = {
    "learned head": MLabNCClassifier(head="linear", **common).fit(X, Y),
    "fixed ETF, d=K": MLabNCClassifier(
        head="etf", feature_dim="n_classes", **common
    ).fit(X, Y),
}

# %%
# What was recorded
# -----------------
# Every measured epoch has ``train_nc1``, ``train_nc2_means``, ``train_nc2_classifier``,
# ``train_nc3``, ``train_nc_m_2`` and ``train_c_m_2`` in ``history_``;
# :func:`~sklearn_mlabnc.collapse.collapse_curves` gathers them into lists.
curves = {name: collapse_curves(clf.history_) for name, clf in models.items()}
print("measured epochs:", curves["learned head"]["epoch"])
for name, c in curves.items():
    print(
        f"{name:>15}: NC1 {c['nc1'][0]:.3f} -> {c['nc1'][-1]:.4f}, "
        f"NC_2 {c['nc_m_2'][0]:.3f} -> {c['nc_m_2'][-1]:.4f}"
    )

# %%
# The curves
# ----------
# :func:`~sklearn_mlabnc.plotting.plot_collapse_curves` draws one panel per metric and
# one line per model, on a log axis. The fixed head's ``NC2 (classifier)`` is 0 by
# construction (drawn at the floor of the log axis): only its features have to move.
fig = plot_collapse_curves(models)
fig.set_size_inches(10, 6)
plt.show()

# %%
# The tag-wise scale
# ------------------
# At collapse the mean feature of a label pair is ``c_2`` times the average of its two
# singleton means. The fitted ``c_2`` settles during training; it differs between the
# two heads because the scale of the features does.
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for name, c in curves.items():
    ax.plot(c["epoch"], c["c_m_2"], marker="o", label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("fitted scale $c_2$")
ax.set_title("Tag-wise average scale of label pairs")
ax.legend()
plt.show()
# sphinx_gallery_thumbnail_number = 2
