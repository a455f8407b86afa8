"""
======================================
Real data: the MULAN emotions data set
======================================

Music clips described by 72 rhythmic and timbre features, labelled with six emotions
(Trohidis et al., ISMIR 2008). Unlike the generated data of the other examples, the
label sets are strongly imbalanced, the setting where the MLab NC theorem gives no
guarantee.

.. note::

   **This example needs the MULAN emotions files**, which are not shipped with the
   package. Download the ``emotions`` archive from the MULAN repository
   (http://mulan.sourceforge.net/datasets-mlc.html), extract ``emotions-train.arff``,
   ``emotions-test.arff`` and ``emotions.xml`` into one folder, and set the environment
   variable ``MLABNC_DATA_DIR`` to that folder. Without them the script stops at once
   with a message that says where to get them; it never substitutes other data. When
   this documentation is built without the files, this page shows the code alone.

The files are read with :func:`~sklearn_mlabnc.datasets.load_mulan`.
"""

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.collapse import collapse_report
from sklearn_mlabnc.datasets import load_mulan
from sklearn_mlabnc.plotting import plot_label_statistics

folder = Path(os.environ.get("MLABNC_DATA_DIR", ".")).expanduser()
if not (folder / "emotions-train.arff").is_file():
    raise FileNotFoundError(
        f"The MULAN emotions files are not in {folder.resolve()}: download them "
        "from http://mulan.sourceforge.net/datasets-mlc.html and set MLABNC_DATA_DIR "
        "to the folder holding emotions-train.arff, emotions-test.arff and "
        "emotions.xml."
    )
train = load_mulan(folder / "emotions-train.arff")
test = load_mulan(folder / "emotions-test.arff")
X_train, Y_train, X_test, Y_test = train.data, train.target, test.data, test.target
label_names = list(train.target_names)

scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
print(f"train {X_train.shape}, test {X_test.shape}, labels: {', '.join(label_names)}")

# %%
# The label sets
# --------------
# Sets of one, two and three emotions, with very different counts within each size.
fig = plot_label_statistics(Y_train, label_names=[n[:8] for n in label_names])
fig.set_size_inches(11, 4)
plt.show()

# %%
# Three models
# ------------
# PAL with a learned head, PAL with a fixed ETF head and ``d = K``, and the one-vs-all
# BCE baseline, all on the same small MLP. Rows with no emotion (if any) get the
# internal background output.
configs = {
    "PAL, learned head": dict(loss="pal"),
    "PAL, fixed ETF, d=K": dict(loss="pal", head="etf", feature_dim="n_classes"),
    "BCE, learned head": dict(loss="bce"),
}
results = {}
for name, config in configs.items():
    clf = MLabNCClassifier(
        hidden_layer_sizes=(64, 64),
        lr=1e-3,
        max_epochs=40,
        random_state=0,
        **config,
    ).fit(X_train, Y_train)
    Y_pred = clf.predict(X_test)
    rep = collapse_report(clf.transform(X_train), Y_train, W=clf.coef_)
    results[name] = {
        "micro-F1": f1_score(Y_test, Y_pred, average="micro", zero_division=0),
        "macro-F1": f1_score(Y_test, Y_pred, average="macro", zero_division=0),
        "NC1": rep.nc1,
        "NC2 (means)": rep.nc2_means,
        "NC_2": rep.nc_m.get(2, np.nan),
    }
    print(f"{name:>20}: " + "  ".join(f"{k} {v:.3f}" for k, v in results[name].items()))
print("\nnotes of the last report:")
for note in rep.notes:
    print(" -", note)

# %%
# Quality and collapse
# --------------------
# Test F1 on the left; collapse metrics of the training features on the right (lower is
# more collapsed). Small real data sets stay far from full collapse.
names = list(results)
x = np.arange(len(names))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
for offset, metric in [(-0.2, "micro-F1"), (0.2, "macro-F1")]:
    ax1.bar(x + offset, [results[n][metric] for n in names], 0.4, label=metric)
ax1.set_xticks(x, names, rotation=12)
# Headroom above the bars for the legend, so that it covers none of them.
ax1.set_ylim(0, 1.25)
ax1.set_yticks(np.linspace(0, 1, 6))
ax1.set_ylabel("test score")
ax1.set_title("Test quality")
ax1.legend(loc="upper center", ncols=2)
for offset, metric in [(-0.27, "NC1"), (0, "NC2 (means)"), (0.27, "NC_2")]:
    label = metric.replace("NC_2", "NC$_2$")
    ax2.bar(x + offset, [results[n][metric] for n in names], 0.27, label=label)
ax2.set_xticks(x, names, rotation=12)
ax2.set_ylabel("metric on the training features")
ax2.set_title("Collapse")
ax2.legend()
plt.show()
