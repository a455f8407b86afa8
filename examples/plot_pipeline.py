"""
================================================
Collapse transformers in a scikit-learn pipeline
================================================

:class:`~sklearn_mlabnc.CollapseFeatures` turns a network into a feature
extractor, so that any scikit-learn model can be trained on its penultimate features,
and :class:`~sklearn_mlabnc.collapse.NeuralCollapseAnalyzer` measures the collapse
of features and expresses each sample in the collapsed geometry.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mlabnc import CollapseFeatures, MLabNCClassifier, NeuralCollapseAnalyzer
from sklearn_mlabnc.datasets import make_multilabel_digits

X_train, Y_train = make_multilabel_digits(
    n_per_singleton=50, n_per_set=8, subset="train", return_X_y=True, random_state=0
)
X_test, Y_test = make_multilabel_digits(
    n_per_singleton=30, n_per_set=5, subset="test", return_X_y=True, random_state=1
)

# %%
# One network, several heads
# --------------------------
# The network is trained once; ``prefit=True`` makes ``CollapseFeatures`` use it as it
# is, so each pipeline below only fits its own final model on the network's features.
net = MLabNCClassifier(
    hidden_layer_sizes=(128, 128), lr=3e-3, max_epochs=30, random_state=0
).fit(X_train, Y_train)

heads = {
    "network's own head": None,
    "k-nearest neighbours": KNeighborsClassifier(n_neighbors=5),
    "one-vs-rest logistic": OneVsRestClassifier(LogisticRegression(max_iter=500)),
}
scores = {}
for name, model in heads.items():
    if model is None:
        Y_pred = net.predict(X_test)
    else:
        pipe = make_pipeline(
            CollapseFeatures(net, prefit=True), StandardScaler(), model
        )
        Y_pred = pipe.fit(X_train, Y_train).predict(X_test)
    scores[name] = f1_score(Y_test, Y_pred, average="micro")
    print(f"{name:>22}: test micro-F1 {scores[name]:.3f}")

fig, ax = plt.subplots(figsize=(5.5, 2.8), layout="constrained")
ax.barh(
    list(scores), list(scores.values()), color=["tab:blue", "tab:orange", "tab:green"]
)
ax.set_xlim(0, 1)
ax.set_xlabel("test micro-F1")
ax.set_title("Classifiers on the collapsed features")
ax.invert_yaxis()
plt.show()

# %%
# Measuring the features
# ----------------------
# ``NeuralCollapseAnalyzer`` fits on features and labels and keeps the full
# :class:`~sklearn_mlabnc.collapse.CollapseReport` in ``report_``; here it is chained
# after the feature extractor.
analyzer = make_pipeline(
    CollapseFeatures(net, prefit=True),
    NeuralCollapseAnalyzer(W=net.coef_, b=net.intercept_),
).fit(X_train, Y_train)
print(analyzer[-1].report_)

# %%
# Collapse coordinates
# --------------------
# ``transform`` gives, for every sample and label ``k``, the cosine between the centred
# feature and the centred singleton mean of ``k``. At collapse a singleton ``{k}`` has
# cosine 1 with ``k`` and ``-1/(K-1)`` with the others, and a pair is equally close to
# both of its labels. The heatmap averages the test samples' coordinates per label set.
coords = analyzer.transform(X_test)
sets = [(k,) for k in range(10)] + [(0, 1), (2, 7), (3, 8), (4, 9), (5, 6)]
rows = []
for labels in sets:
    target = np.zeros(10, dtype=int)
    target[list(labels)] = 1
    rows.append(coords[(Y_test == target).all(axis=1)].mean(axis=0))

fig, ax = plt.subplots(figsize=(7, 5.5), layout="constrained")
image = ax.imshow(np.array(rows), cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_xticks(range(10), [str(k) for k in range(10)])
ax.set_yticks(range(len(sets)), ["{" + ", ".join(map(str, s)) + "}" for s in sets])
ax.set_xlabel("label k")
ax.set_ylabel("true label set of the test samples")
ax.set_title("Mean cosine with each singleton mean (test set)")
fig.colorbar(image, ax=ax, label="cosine")
plt.show()
