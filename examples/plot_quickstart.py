"""
===========
Quick start
===========

Fit a network with the pick-all-label (PAL) loss on multi-label digits, predict label
sets, and measure how far its features have collapsed.

Each sample is a 16x16 canvas holding one or two 8x8 digits from scikit-learn's
``load_digits``; its label set is the set of digits on it (Li, Li, Wang & Qu, ICML 2024,
build the same data from MNIST).
"""

# %%
# Data
# ----
# :func:`~sklearn_mlabnc.datasets.make_multilabel_digits` returns a Bunch with the flat
# pixels, the 0/1 label indicator ``target`` (10 columns) and the canvases. The train
# and test canvases are pasted from disjoint halves of ``load_digits``.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.collapse import collapse_curves, collapse_report
from sklearn_mlabnc.datasets import make_multilabel_digits

train = make_multilabel_digits(
    n_per_singleton=50, n_per_set=8, subset="train", random_state=0
)
test = make_multilabel_digits(
    n_per_singleton=30, n_per_set=5, subset="test", random_state=1
)
X_train, Y_train, X_test, Y_test = train.data, train.target, test.data, test.target
print(f"train {X_train.shape}, test {X_test.shape}")
print("samples per multiplicity:", np.bincount(Y_train.sum(axis=1))[1:])

# %%
# Fit
# ---
# A two-layer MLP with a fixed simplex-ETF classifier and feature dimension ``d = K``.
# ``collapse_every=10`` records the collapse metrics of the training features as it
# goes.
clf = MLabNCClassifier(
    hidden_layer_sizes=(128, 128),
    head="etf",
    feature_dim="n_classes",
    lr=3e-3,
    max_epochs=30,
    collapse_every=10,
    random_state=0,
)
clf.fit(X_train, Y_train)

Y_pred = clf.predict(X_test)
print(f"test micro-F1 {f1_score(Y_test, Y_pred, average='micro'):.3f}")
exact = np.mean((Y_pred == Y_test).all(axis=1))
print(f"exact label set on {exact:.1%} of the test canvases")

# %%
# Look at some predictions
# ------------------------
# Each title gives the true label set and the predicted one (red when they differ).


def label_set(row):
    return "{" + ", ".join(str(k) for k in np.flatnonzero(row)) + "}"


fig, axes = plt.subplots(2, 6, figsize=(9, 3.6), layout="constrained")
shown = np.random.default_rng(0).choice(len(X_test), 12, replace=False)
for ax, i in zip(axes.ravel(), shown, strict=True):
    ax.imshow(test.images[i], cmap="gray_r")
    wrong = (Y_pred[i] != Y_test[i]).any()
    ax.set_title(
        f"true {label_set(Y_test[i])}\npred {label_set(Y_pred[i])}",
        fontsize=8,
        color="tab:red" if wrong else "black",
    )
    ax.set_axis_off()
fig.suptitle("Test canvases: true and predicted label sets")
plt.show()

# %%
# Measure collapse
# ----------------
# :func:`~sklearn_mlabnc.collapse.collapse_report` computes every MLab NC metric of the
# training features: NC1 (within-set variability), NC2 (ETF deviation of the singleton
# means and of the classifier), NC3 (alignment of both), the tag-wise average ``NC_m``
# with its scale ``c_m``, NC4 (agreement with the nearest label-set mean) and the soft
# IoU. All but ``c_m``, NC4 and the soft IoU tend to 0 at collapse.
H_train = clf.transform(X_train)
report = collapse_report(
    H_train, Y_train, W=clf.coef_, b=clf.intercept_, predictions=clf.predict(X_train)
)
print(report)

# %%
# The metrics recorded during training (one record every 10 epochs) are in ``history_``:
curves = collapse_curves(clf.history_)
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for key, name in [("nc1", "NC1"), ("nc2_means", "NC2 (means)"), ("nc3", "NC3")]:
    ax.semilogy(curves["epoch"], curves[key], marker="o", label=name)
ax.semilogy(curves["epoch"], curves["nc_m_2"], marker="o", label="NC$_m$ (m=2)")
ax.set_xlabel("epoch")
ax.set_ylabel("metric (log scale)")
ax.set_title("Collapse of the training features")
ax.legend()
plt.show()
# sphinx_gallery_thumbnail_number = 2
