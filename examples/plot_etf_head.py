"""
=======================================
Learned vs fixed simplex-ETF classifier
=======================================

The optimal classifier under the pick-all-label loss is a simplex equiangular tight
frame (ETF), so it can be fixed before training (``head="etf"``), and the feature
dimension cut to the number of labels (``feature_dim="n_classes"``). This example
compares test quality and trainable parameters of the two, and the geometry of their
classifier rows.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.datasets import make_multilabel_digits
from sklearn_mlabnc.plotting import plot_etf_comparison

X_train, Y_train = make_multilabel_digits(
    n_per_singleton=50, n_per_set=8, subset="train", return_X_y=True, random_state=0
)
X_test, Y_test = make_multilabel_digits(
    n_per_singleton=30, n_per_set=5, subset="test", return_X_y=True, random_state=1
)

configs = {
    "learned, d=128": dict(head="linear"),
    "fixed ETF, d=128": dict(head="etf"),
    "fixed ETF, d=K": dict(head="etf", feature_dim="n_classes"),
}
models, rows = {}, []
for name, config in configs.items():
    clf = MLabNCClassifier(
        hidden_layer_sizes=(128, 128), lr=3e-3, max_epochs=30, random_state=0, **config
    ).fit(X_train, Y_train)
    Y_pred = clf.predict(X_test)
    n_params = sum(p.numel() for p in clf.net_.module_.parameters() if p.requires_grad)
    rows.append(
        (
            name,
            f1_score(Y_test, Y_pred, average="micro"),
            f1_score(Y_test, Y_pred, average="macro"),
            n_params,
        )
    )
    models[name] = clf

print(f"{'model':<18}{'micro-F1':>10}{'macro-F1':>10}{'trainable':>11}")
for name, micro, macro, n_params in rows:
    print(f"{name:<18}{micro:>10.3f}{macro:>10.3f}{n_params:>11,}")

# %%
# Quality against parameters
# --------------------------
# Freezing the classifier removes its ``K x d`` weights; cutting ``d`` to ``K`` also
# shrinks the last hidden layer. On this small MLP the saving is the last layer's share
# of the parameters; on ResNet-18 the paper reports about 20%.
names = [r[0] for r in rows]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
x = np.arange(len(rows))
ax1.bar(x - 0.2, [r[1] for r in rows], 0.4, label="micro-F1")
ax1.bar(x + 0.2, [r[2] for r in rows], 0.4, label="macro-F1")
ax1.set_xticks(x, names, rotation=15)
# Headroom above the bars for the legend, so that it covers none of them.
ax1.set_ylim(0, 1.25)
ax1.set_yticks(np.linspace(0, 1, 6))
ax1.set_ylabel("test score")
ax1.set_title("Test quality")
ax1.legend(loc="upper center", ncols=2)
ax2.bar(x, [r[3] / 1e3 for r in rows], color="tab:gray")
ax2.set_xticks(x, names, rotation=15)
ax2.set_ylabel("trainable parameters (thousands)")
ax2.set_title("Model size")
plt.show()

# %%
# Geometry of the classifier rows
# -------------------------------
# :func:`~sklearn_mlabnc.plotting.plot_etf_comparison` shows the pairwise cosines of the
# classifier rows; a simplex ETF has every off-diagonal cosine equal to ``-1/(K-1)``
# (white). The learned head gets close to it by training alone.
fig = plot_etf_comparison(
    {
        "learned, d=128": models["learned, d=128"],
        "fixed ETF, d=K": models["fixed ETF, d=K"],
    },
    annotate=False,
)
plt.show()
# sphinx_gallery_thumbnail_number = 2
