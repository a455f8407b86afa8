"""Draw the figure of the documentation's landing page: collapse happening.

A network with a fixed simplex-ETF head is trained on tag-wise blobs with five labels;
the figure shows the geometry of its inputs, the collapse metrics over the epochs, and the
geometry of the learned features. Run from the root of a checkout (needs matplotlib)::

    python docs/_ext/landing_figure.py      # writes docs/_static/collapse.png
"""

from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.backbones import MLP
from sklearn_mlabnc.collapse import collapse_curves
from sklearn_mlabnc.datasets import make_tagwise_blobs
from sklearn_mlabnc.plotting import plot_geometry

OUT = Path(__file__).resolve().parent.parent / "_static" / "collapse.png"


def main() -> None:
    X, Y = make_tagwise_blobs(
        n_classes=5,
        n_features=12,
        n_per_singleton=80,
        n_per_set=30,
        noise=0.3,
        violate=0.8,
        random_state=0,
    )
    # The reproduction's protocol (see the mlabnc command): SGD with weight decay and a
    # feature penalty, no dropout, a plain linear feature layer, trained to the end.
    clf = MLabNCClassifier(
        module=partial(MLP, hidden_layer_sizes=(128, 128), feature_layer="linear", dropout=0.0),
        head="etf",
        feature_dim="n_classes",
        optimizer="sgd",
        lr=0.05,
        momentum=0.9,
        batch_size=64,
        max_epochs=200,
        weight_decay=5e-3,
        feature_decay=0.03,
        collapse_every=4,
        decision="cardinality",
        random_state=0,
    ).fit(X, Y)
    fig = plt.figure(figsize=(13, 4.3), layout="constrained")
    before, curves, after = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.15, 1]})
    for ax, features, W, title in [
        (before, X, None, "Inputs"),
        (after, clf.transform(X), clf.coef_, "Learned features after 200 epochs"),
    ]:
        plot_geometry(features, Y, W=W, annotate_sets=False, ax=ax)
        ax.set_title(title, fontsize="medium")
        ax.get_legend().remove()
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.set_xticks([])
        ax.set_yticks([])
    history = collapse_curves(clf.history_)
    names = {
        "nc1": "NC1: spread within a class",
        "nc2_means": "NC2: class means vs simplex ETF",
        "nc3": "NC3: classifier vs class means",
        "nc_m_2": "NC$_2$: pair means vs tag-wise average",
    }
    for key, label in names.items():
        values = np.maximum(np.asarray(history[key], dtype=float), 1e-4)  # log scale
        curves.plot(history["epoch"], values, label=label, lw=1.8)
    curves.set_yscale("log")
    curves.set_xlabel("epoch")
    curves.set_ylabel("metric (0 at collapse)")
    curves.set_title("Collapse metrics during training", fontsize="medium")
    curves.legend(fontsize="small", loc="lower left")
    curves.grid(color="0.9")
    fig.savefig(OUT, dpi=100)
    print(OUT)


if __name__ == "__main__":
    main()
