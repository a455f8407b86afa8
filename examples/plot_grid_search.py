"""
======================================
Grid search on quality and on collapse
======================================

The collapse metrics are scikit-learn scorers, so a
:class:`~sklearn.model_selection.GridSearchCV` can record them next to the usual quality
scores and pick the model by one of them (``refit``). Scorers follow scikit-learn's
"greater is better" convention: :data:`~sklearn_mlabnc.scorers.nc1_scorer` returns
``-NC1``.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import GridSearchCV

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.datasets import make_multilabel_digits
from sklearn_mlabnc.scorers import nc1_scorer

X, Y = make_multilabel_digits(
    n_per_singleton=30, n_per_set=5, subset="train", return_X_y=True, random_state=0
)

search = GridSearchCV(
    MLabNCClassifier(hidden_layer_sizes=(64,), lr=3e-3, max_epochs=15, random_state=0),
    param_grid={"head": ["linear", "etf"], "feature_decay": [0.0, 0.01]},
    scoring={"f1": "f1_micro", "nc1": nc1_scorer},
    refit="f1",
    cv=3,
    return_train_score=True,
)
search.fit(X, Y)
print("best by micro-F1:", search.best_params_)

# %%
# The table
# ---------
# ``test_nc1`` measures NC1 on the held-out fold's features; the paper tracks the
# training features, which ``return_train_score=True`` adds as ``train_nc1``.
results = pd.DataFrame(search.cv_results_)
table = results[["param_head", "param_feature_decay", "mean_test_f1"]].copy()
table["NC1 (test folds)"] = -results["mean_test_nc1"]
table["NC1 (train folds)"] = -results["mean_train_nc1"]
print(table.round(4).to_string(index=False))

# %%
# Quality against collapse
# ------------------------
# Each point is one candidate, with its cross-validated micro-F1 and the NC1 of the
# training folds' features (lower is more collapsed).
fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
for head, marker in [("linear", "o"), ("etf", "s")]:
    rows = results[results["param_head"] == head]
    ax.scatter(
        -rows["mean_train_nc1"],
        rows["mean_test_f1"],
        marker=marker,
        s=60,
        label=f"head={head!r}",
    )
    for _, row in rows.iterrows():
        # Above the point without a feature penalty, below it with one: candidates
        # that land on the same spot keep both labels readable.
        above = row["param_feature_decay"] == 0
        ax.annotate(
            f"feature_decay={row['param_feature_decay']:g}",
            (-row["mean_train_nc1"], row["mean_test_f1"]),
            xytext=(6, 4 if above else -11),
            textcoords="offset points",
            fontsize=8,
        )
ax.set_xscale("log")
# Room inside the axes for the labels right of the rightmost points.
ax.margins(x=0.45, y=0.15)
ax.set_xlabel("NC1 of the training features (log scale)")
ax.set_ylabel("cross-validated micro-F1")
ax.set_title("Grid-search candidates")
ax.legend()
plt.show()
