r"""Unconstrained feature model (UFM) for multi-label learning.

The UFM treats the penultimate features as free variables and asks what a perfectly expressive
network would learn. With :math:`K` labels, feature dimension :math:`d` and :math:`N` samples it
solves

.. math::

    \min_{W, H, b}\; \frac1N \sum_i L(W h_i + b, S_i)
        + \frac{\lambda_W}{2}\|W\|_F^2 + \frac{\lambda_H}{2}\|H\|_F^2
        + \frac{\lambda_b}{2}\|b\|^2 ,

where :math:`S_i` is the label set of sample :math:`i` and :math:`L` is the pick-all-label
cross-entropy (PAL), its normalised variant (PAL-N) or one-vs-all BCE. Li, Li, Wang & Qu,
*Neural Collapse in Multi-label Learning with Pick-all-label Loss* (ICML 2024,
arXiv:2310.15903) prove that when every label set of the same multiplicity has the same number
of samples and :math:`d \ge K-1`, every global minimiser of the PAL problem exhibits
multi-label neural collapse (MLab NC): within-set features collapse, :math:`W` is a scaled
simplex ETF, singleton means are proportional to the rows of :math:`W`, and the mean of a set
of multiplicity :math:`m` is :math:`c_m` times the average of its singleton means.

This subpackage offers two solvers:

* :func:`solve_ufm` minimises the full problem numerically for any 0/1 label matrix (balanced
  or not, any loss), so the theorem can be checked, and its failure under imbalance measured;
* :func:`reduced_problem` solves the theorem's reduced problem in the scale parameters
  :math:`\alpha, a_1, \dots, a_M` to machine precision and returns the predicted geometry.

Both also solve the UFM of a network with a fixed classifier (``fixed_classifier="etf"``:
:math:`W` fixed, :math:`H` and :math:`b` free), and both take the feature penalty as
:class:`~sklearn_mlabnc.MLabNCClassifier` does (``feature_decay``, a per-sample mean, so
:math:`\lambda_H = 2\,\texttt{feature\_decay}/N`) or as :math:`\lambda_H` itself
(``lambda_h``).
"""

from ._full import UFMSolution, solve_ufm
from ._reduced import ReducedSolution, UFMGeometry, reduced_problem

__all__ = ["ReducedSolution", "UFMGeometry", "UFMSolution", "reduced_problem", "solve_ufm"]
