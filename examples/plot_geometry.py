"""
====================================
The geometry of multi-label collapse
====================================

At multi-label neural collapse the singleton means ``mu_k`` form a simplex ETF (equal
lengths, pairwise cosine ``-1/(K-1)``), and the mean of a label set ``S`` of size ``m``
is a scaled average of its labels' singleton means, ``mu_S = c_m * mean_{k in S} mu_k``.
This example trains a network on ``K = 4`` labels and draws its features before and
after. It uses a fixed simplex-ETF head with ``d = K``, which gets close to collapse
within a few seconds of training; a learned head goes the same way, more slowly (see the
collapse-curves example).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.collapse import collapse_report
from sklearn_mlabnc.datasets import make_tagwise_blobs
from sklearn_mlabnc.plotting import plot_geometry

# %%
# Data with a distorted geometry
# ------------------------------
# :func:`~sklearn_mlabnc.datasets.make_tagwise_blobs` draws Gaussian inputs around
# label-set means; with ``violate=0.8`` the pair means are pushed well off the tag-wise
# average and the noise is large, so the *inputs* are far from collapse.
K = 4
X, Y = make_tagwise_blobs(
    n_classes=K,
    n_features=12,
    n_per_singleton=80,
    n_per_set=30,
    noise=0.5,
    violate=0.8,
    random_state=0,
)
labels = ["cat", "dog", "car", "tree"]

clf = MLabNCClassifier(
    hidden_layer_sizes=(64, 64),
    head="etf",
    feature_dim="n_classes",
    lr=1e-2,
    max_epochs=100,
    feature_decay=0.128,
    random_state=0,
).fit(X, Y)
H = clf.transform(X)

for name, features, W in [("inputs", X, None), ("learned features", H, clf.coef_)]:
    rep = collapse_report(features, Y, W=W)
    print(
        f"{name:>17}: NC1 {rep.nc1:.3f}  NC2 (means) {rep.nc2_means:.3f}  "
        f"NC_2 {rep.nc_m[2]:.3f}  c_2 {rep.c_m[2]:.3f}"
    )

# %%
# Before and after, in two dimensions
# -----------------------------------
# :func:`~sklearn_mlabnc.plotting.plot_geometry` projects the centred singleton means
# (arrows), the pair means (filled markers) and their tag-wise-average predictions ``c_2
# (mu_i + mu_j) / 2`` (hollow markers, joined by the residual) onto the plane of the
# singleton means' span in which a simplex ETF is a regular polygon; the title says how
# much of the means' spread the view keeps. After training the hollow markers sit on the
# filled ones; the dashed arrows are the (fixed) classifier rows, with which the
# singleton means align (NC3).
fig = plot_geometry(X, Y, label_names=labels)
ax = fig.axes[0]
ax.set_title("Input features\n" + ax.get_title().split("\n", 1)[1], fontsize="medium")
plt.show()

# %%
fig = plot_geometry(H, Y, W=clf.coef_, label_names=labels)
ax = fig.axes[0]
ax.set_title(
    "Learned features (fixed ETF head, d = K)\n" + ax.get_title().split("\n", 1)[1],
    fontsize="medium",
)
plt.show()
# sphinx_gallery_thumbnail_number = 2

# %%
# The simplex in three dimensions
# -------------------------------
# Four singleton means that form a simplex ETF are the vertices of a regular tetrahedron
# around the global mean; the six pair means lie on the edges' directions, scaled by
# ``c_2``.
fig = plot_geometry(H, Y, W=clf.coef_, dims=3, label_names=labels)
plt.show()

# %%
# The ETF, numerically
# --------------------
# Pairwise cosines of the centred singleton means against the ideal ``-1/(K-1)``:
means = np.array(
    [H[(Y == np.eye(K, dtype=int)[k]).all(axis=1)].mean(axis=0) for k in range(K)]
)
centred = means - means.mean(axis=0)
unit = centred / np.linalg.norm(centred, axis=1, keepdims=True)
cosines = unit @ unit.T
print(np.round(cosines, 3))
print(f"ideal off-diagonal cosine: {-1 / (K - 1):.3f}")
