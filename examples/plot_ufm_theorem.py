"""
====================================
Checking the UFM theorem numerically
====================================

In the unconstrained feature model (UFM) the features are free variables. Li, Li, Wang &
Qu prove that, when every label set of a multiplicity has the same number of samples,
every global minimiser of the PAL problem has the MLab NC geometry, and reduce the
problem to a few scale parameters. Here the full problem, minimised numerically by
:func:`~sklearn_mlabnc.ufm.solve_ufm`, is compared with the closed form of
:func:`~sklearn_mlabnc.ufm.reduced_problem`.
"""

# %%
import itertools

import matplotlib.pyplot as plt
import numpy as np

from sklearn_mlabnc.ufm import reduced_problem, solve_ufm

K = 4
counts = {1: 3, 2: 1}  # 3 samples per singleton, 1 per pair


def balanced_labels(n_classes, counts):
    rows = []
    for m, n in counts.items():
        for labels in itertools.combinations(range(n_classes), m):
            row = np.zeros(n_classes, dtype=int)
            row[list(labels)] = 1
            rows += [row] * n
    return np.array(rows)


Y = balanced_labels(K, counts)
print(f"{len(Y)} samples, {K} labels")

full = solve_ufm(Y, random_state=0)
closed = reduced_problem(counts, K)
report = full.report()
print(f"solver converged: {full.converged} (gradient norm {full.grad_norm:.1e})")
print(f"objective   solver {full.objective:.12f}   closed form {closed.objective:.12f}")
row_norms = np.round(np.linalg.norm(full.W, axis=1), 8)
print(f"row norms of W {row_norms}, alpha {closed.alpha:.8f}")
print(f"c_2         solver {report.c_m[2]:.8f}   closed form {closed.c_m[2]:.8f}")
print(
    f"NC1 {report.nc1:.1e}, NC2 (W) {report.nc2_classifier:.1e}, NC3 {report.nc3:.1e}, "
    f"NC_2 {report.nc_m[2]:.1e}"
)

# %%
# Across regularisation strengths
# -------------------------------
# The feature penalty ``lambda_H`` sets the scale of the solution. For each value the
# classifier norm ``alpha`` and the tag-wise scale ``c_2`` of the numerical optimum
# (markers) match the closed form (lines); past a critical strength the only minimiser
# is ``W = H = 0``.
grid = np.geomspace(1e-4, 3e-2, 20)
closed_alpha, closed_c2 = [], []
for lam in grid:
    sol = reduced_problem(counts, K, lambda_h=lam)
    closed_alpha.append(sol.alpha)
    closed_c2.append(sol.c_m[2])
checks = grid[::4]
solver_alpha, solver_c2 = [], []
for lam in checks:
    sol = solve_ufm(Y, lambda_h=lam, random_state=0)
    solver_alpha.append(np.linalg.norm(sol.W, axis=1).mean())
    solver_c2.append(sol.report().c_m[2] if np.linalg.norm(sol.W) > 1e-8 else np.nan)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
ax1.plot(grid, closed_alpha, label="closed form (reduced problem)")
ax1.plot(checks, solver_alpha, "o", label="numerical optimum (solve_ufm)")
ax1.set_xscale("log")
ax1.set_xlabel(r"feature decay $\lambda_H$")
ax1.set_ylabel(r"row norm $\alpha$ of $W$")
ax1.set_title("Classifier scale")
ax1.legend()
ax2.plot(grid, closed_c2, label="closed form")
ax2.plot(checks, solver_c2, "o", label="numerical optimum")
ax2.set_xscale("log")
ax2.set_xlabel(r"feature decay $\lambda_H$")
ax2.set_ylabel(r"tag-wise scale $c_2$")
ax2.set_title("Pair means: $\\mu_{\\{i,j\\}} = c_2 (\\mu_i + \\mu_j) / 2$")
ax2.legend()
plt.show()

# %%
# PAL and PAL-N
# -------------
# The normalised loss weights a multiplicity-``m`` sample by ``1/m``, which changes the
# scales but not the geometry.
for loss in ("pal", "pal_normalized"):
    sol = reduced_problem({1: 3, 2: 1, 3: 1}, K, loss=loss)
    scales = ", ".join(f"c_{m} = {c:.4f}" for m, c in sol.c_m.items() if m > 1)
    print(f"{loss:>15}: alpha = {sol.alpha:.4f}, {scales}")
