"""Decision rules: network outputs -> label sets.

The pick-all-label loss gives softmax scores with no natural threshold, and the paper gives no
rule. Four rules are offered, all vectorised on the device:

- ``threshold``: label k is on when ``p_k >= t * max_j p_j``, i.e. when its logit is within
  ``-log t`` of the top logit; ``t`` is tuned on the training data for the decision metric
  (exactly, by one sort, for micro-F1 and Hamming) unless given.
- ``per_label``: the same with one fraction ``t_k`` per label (a sigmoid cut-off per label
  for BCE), tuned on out-of-fold outputs (see ``_selection``).
- ``cardinality``: predict the top-m labels, with m the allowed multiplicity at which the
  sorted logits drop most (at collapse a multiplicity-m sample has m tied top logits).
- ``prototype``: nearest label-set prototype in feature space among the top-m candidates
  for each allowed m; prototypes follow the tag-wise average
  ``mu_S = o + c_m * mean_{k in S} a_k`` fitted to the training features, so label sets never
  seen in training can be predicted.

With a background output (an extra "no label" logit, last column) a sample whose background
logit is the largest gets the empty set (threshold and cardinality rules); the prototype rule
lets the empty-set mean compete as one more prototype.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ._cuts import tune_global_cut


class NetworkOutputs(NamedTuple):
    """What one forward pass of a fitted :class:`MLabNCClassifier` gives, on its device.

    Attributes
    ----------
    logits : torch.Tensor of shape (n_samples, n_labels)
        The label logits (a background output, if any, left out).
    features : torch.Tensor of shape (n_samples, d)
        The penultimate features the head sees.
    label_sets : torch.Tensor of bool, shape (n_samples, n_labels)
        The predicted label sets (one-hot classes for 1-D targets).
    """

    logits: torch.Tensor
    features: torch.Tensor
    label_sets: torch.Tensor


# Alternating least squares for the tag-wise prototypes: at most this many rounds, stopping
# once no scale c_m moves by more than the tolerance (relative).
_PROTOTYPE_ROUNDS = 500
_PROTOTYPE_TOL = 1e-12


def split_background(logits: torch.Tensor, has_background: bool):
    """Label logits and the mask of samples whose background logit wins."""
    if not has_background:
        return logits, torch.zeros(len(logits), dtype=torch.bool, device=logits.device)
    label_logits = logits[:, :-1]
    return label_logits, logits[:, -1] > label_logits.max(dim=1).values


def log_gaps(label_logits: torch.Tensor) -> torch.Tensor:
    """``log p_k - log max_j p_j`` of a softmax: each logit minus its row's largest."""
    return label_logits - label_logits.max(dim=1, keepdim=True).values


def threshold_rule(label_logits: torch.Tensor, empty: torch.Tensor, fraction: float):
    """Labels whose score is at least ``fraction`` times the top label score."""
    gaps = log_gaps(label_logits)
    return (gaps >= float(np.log(fraction))) & ~empty[:, None]


def tune_threshold(
    label_logits: torch.Tensor, empty: torch.Tensor, Y: torch.Tensor, metric: str = "f1_micro"
) -> float:
    """The fraction ``t`` in (0, 1] maximising ``metric`` of :func:`threshold_rule` on ``Y``.

    The rule cuts the log-gaps ``log p_k - log max_j p_j`` at ``log t``; the best cut comes
    from :func:`~sklearn_mlabnc._cuts.tune_global_cut` (exact for micro-F1 and Hamming).
    """
    if bool(empty.all()):  # every sample predicts the empty set: nothing to tune
        return 1.0
    gaps = log_gaps(label_logits)
    cut = tune_global_cut(
        gaps.double().cpu().numpy(), empty.cpu().numpy(), Y.cpu().numpy(), metric
    )
    return float(np.clip(np.exp(cut), 1e-12, 1.0))


def label_threshold_rule(
    label_logits: torch.Tensor, empty: torch.Tensor, fractions, independent: bool
) -> torch.Tensor:
    """Per-label cuts: label k on when ``p_k >= t_k max_j p_j`` (PAL) or ``sigmoid >= t_k``."""
    cuts = torch.as_tensor(np.asarray(fractions), device=label_logits.device)
    if independent:
        return torch.sigmoid(label_logits.double()) >= cuts
    gaps = log_gaps(label_logits).double()
    return (gaps >= torch.log(cuts)) & ~empty[:, None]


def cardinality_rule(
    label_logits: torch.Tensor, empty: torch.Tensor, multiplicities: np.ndarray
) -> torch.Tensor:
    """Top-m labels, with m the allowed multiplicity of the largest drop in sorted logits.

    Only the ``max(m) + 1`` largest logits matter, so a partial ``topk`` replaces a sort:
    O(n K) rather than O(n K log K) for many labels.
    """
    n, n_labels = label_logits.shape
    allowed = [int(m) for m in multiplicities if 1 <= m < n_labels]
    if not allowed:  # only m = n_labels (or nothing) was seen: every label is on
        return ~empty[:, None].expand(n, n_labels)
    top = torch.topk(label_logits, max(allowed) + 1, dim=1)
    drops = top.values[:, :-1] - top.values[:, 1:]  # drops[:, m-1] = z_(m) - z_(m+1)
    candidates = torch.tensor(allowed, device=label_logits.device)
    chosen = candidates[torch.argmax(drops[:, candidates - 1], dim=1)]
    return _first_m(top.indices, chosen, n_labels) & ~empty[:, None]


def default_rule(loss: str) -> str:
    """The rule when none is chosen from the data (``partial_fit``, 1-D targets, tiny data).

    The sigmoid cut-off for BCE, cardinality for PAL.
    """
    return "threshold" if loss == "bce" else "cardinality"


def fit_rule(
    rule: str,
    *,
    threshold,
    independent: bool,
    outputs,
    Y,
    has_background: bool,
    metric: str = "f1_micro",
):
    """What ``rule`` needs from the training data: ``(threshold_, prototypes)``, or Nones.

    ``outputs()`` gives the training logits and features; it is called only when the rule
    needs them (a tuned threshold or prototypes), sparing a pass over the data otherwise.
    ``independent`` marks per-label sigmoids (BCE), whose cut-off is 0.5 unless given.
    """
    if rule == "threshold" and (threshold is not None or independent):
        return (0.5 if threshold is None else float(threshold)), None
    if rule not in ("threshold", "prototype"):
        return None, None
    logits, features = outputs()
    Y = torch.as_tensor(Y, device=logits.device)
    if rule == "threshold":
        label_logits, empty = split_background(logits, has_background)
        return tune_threshold(label_logits, empty, Y, metric), None
    return None, TagwisePrototypes().fit(features.cpu().numpy(), Y.cpu().numpy())


def apply_rule(
    rule: str,
    logits: torch.Tensor,
    features: torch.Tensor,
    *,
    has_background: bool,
    multiplicities: np.ndarray,
    threshold: float | None,
    prototypes: TagwisePrototypes | None,
    independent: bool,
    label_thresholds=None,
) -> torch.Tensor:
    """Boolean ``(n, n_labels)`` label sets from the network outputs under ``rule``."""
    label_logits, empty = split_background(logits, has_background)
    if rule == "per_label":
        return label_threshold_rule(label_logits, empty, label_thresholds, independent)
    if rule == "cardinality":
        return cardinality_rule(label_logits, empty, multiplicities)
    if rule == "prototype":
        return prototypes.predict(features, label_logits, multiplicities)
    if independent:
        return torch.sigmoid(label_logits) >= threshold
    return threshold_rule(label_logits, empty, threshold)


def _first_m(indices: torch.Tensor, m: torch.Tensor, n_labels: int) -> torch.Tensor:
    """Boolean (n, n_labels) mask of the first ``m`` labels of each row of ``indices``."""
    positions = torch.arange(indices.shape[1], device=indices.device)
    mask = torch.zeros(len(indices), n_labels, dtype=torch.bool, device=indices.device)
    return mask.scatter_(1, indices, positions < m[:, None])


class TagwisePrototypes:
    """Label-set prototypes ``o + c_m * mean_{k in S} a_k`` fitted to training features.

    ``a_k`` are label atoms, ``c_m`` per-multiplicity scales and ``o`` an origin, fitted by
    alternating least squares to the label-set means weighted by their counts: for fixed
    scales, atoms and origin solve one linear least-squares problem; for fixed atoms and origin
    each ``c_m`` has a closed form. With singletons present the atoms follow their means, as in
    the paper's tag-wise average; labels never seen alone still get an atom from the sets
    containing them, so unseen label sets get prototypes too.
    """

    def fit(
        self, features: np.ndarray, Y: np.ndarray, tol: float = _PROTOTYPE_TOL
    ) -> TagwisePrototypes:
        """Fit to ``features`` and their label sets ``Y``; ``tol`` stops the rounds early."""
        features = np.asarray(features, dtype=np.float64)
        Y = np.asarray(Y) > 0
        sizes = Y.sum(axis=1)
        self.empty_mean_ = features[sizes == 0].mean(axis=0) if (sizes == 0).any() else None
        keep = sizes > 0
        if not keep.any():  # only empty label sets were seen: the empty set is all we predict
            self.atoms_ = np.zeros((Y.shape[1], features.shape[1]))
            self.origin_, self.scales_ = features.mean(axis=0), {}
            return self
        sets, inverse, counts = np.unique(Y[keep], axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        set_means = np.zeros((len(sets), features.shape[1]))
        np.add.at(set_means, inverse, features[keep])
        set_means /= counts[:, None]
        set_sizes = sets.sum(axis=1)
        averaging = sets / set_sizes[:, None]  # rows: mean over the set's labels
        n_labels = Y.shape[1]
        # Per-multiplicity sufficient statistics, so each round costs O(M K^2 d + K^3)
        # whatever the number of label sets: G = A^T W A, g = A^T w, R = A^T W S, r = w^T S.
        blocks = {}
        for m in np.unique(set_sizes).tolist():
            rows = set_sizes == m
            A, w, S = averaging[rows], counts[rows].astype(np.float64), set_means[rows]
            blocks[m] = (A.T @ (w[:, None] * A), A.T @ w, A.T @ (w[:, None] * S), w @ S)
        scales = dict.fromkeys(blocks, 1.0)
        ridge = 1e-9 * counts.sum() * np.eye(n_labels + 1)
        for _ in range(_PROTOTYPE_ROUNDS):
            gram = ridge.copy()
            rhs = np.zeros((n_labels + 1, features.shape[1]))
            for m, (G, g, R, r) in blocks.items():
                c = scales[m]
                gram[:-1, :-1] += c * c * G
                gram[:-1, -1] += c * g
                gram[-1, :-1] += c * g
                rhs[:-1] += c * R
                rhs[-1] += r
            gram[-1, -1] += counts.sum()
            solution = np.linalg.solve(gram, rhs)
            atoms, origin = solution[:-1], solution[-1]
            previous = dict(scales)
            for m, (G, g, R, _) in blocks.items():
                denom = float(np.sum(atoms * (G @ atoms)))
                if denom > 0:
                    scales[m] = float(np.sum(atoms * (R - np.outer(g, origin)))) / denom
            moves = [abs(scales[m] - previous[m]) / max(abs(scales[m]), 1e-300) for m in scales]
            if max(moves) <= tol:
                break
        self.atoms_, self.origin_, self.scales_ = atoms, origin, scales
        return self

    def to_dict(self) -> dict:
        """The fitted prototypes: JSON-friendly scales and the arrays (see :meth:`from_dict`)."""
        return {
            "scales": {str(m): float(c) for m, c in self.scales_.items()},
            "atoms": np.asarray(self.atoms_),
            "origin": np.asarray(self.origin_),
            "empty_mean": None if self.empty_mean_ is None else np.asarray(self.empty_mean_),
        }

    @classmethod
    def from_dict(cls, state: dict) -> TagwisePrototypes:
        """The prototypes that :meth:`to_dict` described."""
        prototypes = cls()
        prototypes.scales_ = {int(m): float(c) for m, c in state["scales"].items()}
        prototypes.atoms_ = np.asarray(state["atoms"])
        prototypes.origin_ = np.asarray(state["origin"])
        empty = state.get("empty_mean")
        prototypes.empty_mean_ = None if empty is None else np.asarray(empty)
        return prototypes

    def predict(
        self, features: torch.Tensor, label_logits: torch.Tensor, multiplicities: np.ndarray
    ) -> torch.Tensor:
        """Nearest prototype among the top-m label sets (by logit) for each allowed m.

        With ``c = h - o`` and the prototype ``p = (c_m / m) sum_{i<m} a_{t_i}`` of the top-m
        labels ``t``, ``||c - p||^2 - ||c||^2 = -2 (c_m/m) sum_i c.a_{t_i} + (c_m/m)^2
        ||sum_i a_{t_i}||^2``: the common ``||c||^2`` drops out of the comparison, the inner
        products are one (n, K) GEMM and the prototype norms come from the atoms' Gram
        matrix, so no (n, m, d) tensor is formed.
        """
        device = features.device
        n_labels = label_logits.shape[1]
        allowed = [int(m) for m in multiplicities if int(m) in self.scales_]
        if not allowed:
            return torch.zeros_like(label_logits, dtype=torch.bool)
        top = torch.topk(label_logits, max(allowed), dim=1).indices
        atoms = torch.as_tensor(self.atoms_, device=device, dtype=features.dtype)
        shift = torch.as_tensor(self.origin_ @ self.atoms_.T, device=device)
        if n_labels <= 128 * top.shape[1]:  # one (n, K) GEMM beats gathering (n, m, d) atoms
            inner = torch.gather(features @ atoms.T, 1, top)
        else:
            inner = torch.bmm(atoms[top], features[:, :, None])[..., 0]
        cum_inner = (inner.double() - shift[top]).cumsum(dim=1)  # sum_{i<=j} c . a_{t_i}
        gram = torch.as_tensor(self.atoms_ @ self.atoms_.T, device=device).reshape(-1)
        norms, total = [], 0.0
        for j in range(top.shape[1]):  # ||sum_{i<=j} a_{t_i}||^2, one column at a time
            t_j = top[:, j : j + 1]
            cross = gram[top[:, :j] * n_labels + t_j].sum(dim=1) if j else 0.0
            total = total + 2 * cross + gram[t_j[:, 0] * (n_labels + 1)]
            norms.append(total)
        distances = []
        for m in allowed:
            weight = self.scales_[m] / m
            distances.append(-2 * weight * cum_inner[:, m - 1] + weight**2 * norms[m - 1])
        sizes = torch.tensor(allowed, device=device)
        if self.empty_mean_ is not None:
            offset = self.empty_mean_ - self.origin_  # ||c - offset||^2 - ||c||^2
            along = (
                features @ torch.as_tensor(offset, device=device, dtype=features.dtype)
            ).double()
            distances.append(-2 * (along - self.origin_ @ offset) + offset @ offset)
            sizes = torch.cat([sizes, torch.zeros(1, dtype=sizes.dtype, device=device)])
        chosen = sizes[torch.argmin(torch.stack(distances, dim=1), dim=1)]
        return _first_m(top, chosen, label_logits.shape[1])
