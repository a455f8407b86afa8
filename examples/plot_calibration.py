"""
===========================================
Calibrated per-label probabilities
===========================================

Under the pick-all-label loss the network's outputs form one distribution over the
labels: a sample with three labels gives each about 1/3. That distribution is still
available as ``predict_label_distribution``; ``predict_proba`` instead returns the
probability of each label on its own, calibrated on out-of-fold outputs during ``fit``.
The reliability diagram shows the difference: a calibrated probability of 0.3 comes true
about 30 % of the time.
"""

# %%
import matplotlib.pyplot as plt
import torch
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import cross_validate, train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.plotting import MultilabelReliabilityDisplay
from sklearn_mlabnc.scorers import (
    CALIBRATION_SCORERS,
    per_label_brier_score,
    per_label_log_loss,
)

torch.set_num_threads(1)

X, Y = make_multilabel_classification(
    n_samples=1200, n_features=20, n_classes=8, n_labels=3, random_state=0
)
X = StandardScaler().fit_transform(X)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)
clf = MLabNCClassifier(max_epochs=20, random_state=0).fit(X_train, Y_train)

proba = clf.predict_proba(X_test)
shares = clf.predict_label_distribution(X_test)
print(f"labels per test row: {Y_test.sum(axis=1).mean():.2f}")
print(f"sum of predict_proba per row: {proba.sum(axis=1).mean():.2f}")
print(f"sum of the label distribution per row: {shares.sum(axis=1).mean():.2f}")
for name, P in [("predict_proba", proba), ("label distribution", shares)]:
    brier, loss = per_label_brier_score(Y_test, P), per_label_log_loss(Y_test, P)
    print(f"{name:>18}: per-label Brier {brier:.3f}, log-loss {loss:.3f}")

# %%
# Reliability diagrams
# --------------------
# Pooled over all (sample, label) entries, plus the two worst-calibrated labels.
fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), layout="constrained", sharey=True)
MultilabelReliabilityDisplay.from_predictions(
    Y_test, shares, n_worst=2, name="label distribution", ax=axes[0]
)
MultilabelReliabilityDisplay.from_estimator(
    clf, X_test, Y_test, n_worst=2, name="predict_proba", ax=axes[1]
)
axes[0].set_title("predict_label_distribution")
axes[1].set_title("predict_proba (calibrated)")
plt.show()

# %%
# Calibration in model selection
# ------------------------------
# The calibration scorers are negated (greater is better), like scikit-learn's
# ``neg_log_loss``; they read ``predict_proba``.
small = MLabNCClassifier(max_epochs=10, random_state=0)
scores = cross_validate(small, X_train, Y_train, cv=3, scoring=CALIBRATION_SCORERS)
for name in CALIBRATION_SCORERS:
    print(f"{name}: {scores[f'test_{name}'].mean():.4f}")
