"""Docstring text shared by several functions, filled in by substitution.

The report conventions are documented once here (:data:`REPORT_OPTIONS_DOC`) and inserted
into every docstring that lists them with :class:`Substitution`, in the manner of
imbalanced-learn's ``Substitution`` decorator.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

__all__ = ["REPORT_OPTIONS_DOC", "Substitution"]

REPORT_OPTIONS_DOC = """\
classes : {'singletons', 'label_sets'}, default='singletons'
    NC1 classes: the ``K`` singleton label sets (paper; only multiplicity-1 samples are
    used), or every distinct non-empty label set (see :func:`~sklearn_mlabnc.collapse.nc1`).
inverse : {'pinv', 'svd'}, default='pinv'
    Inverse of the between-class covariance in NC1 (see
    :func:`~sklearn_mlabnc.collapse.nc1`).
global_mean : {'weighted', 'class_means', 'paper'}, default='weighted'
    Global mean ``mu_G``: the sample-weighted mean, the unweighted mean of the class
    means, or the paper code's quirk (see :func:`~sklearn_mlabnc.collapse.nc1`); it also
    centres NC2 and NC3.
centered : bool, default=True
    Centre the singleton means in NC2 (``False`` reproduces the paper's code).
tagwise_centered : bool, default=False
    Centre the means in the tag-wise average NC_m (the paper does not; see
    :func:`~sklearn_mlabnc.collapse.tagwise_average`).
max_subsets : int, default=2000
    Cap on the reference label subsets per multiplicity in NC_m.
random_state : int, default=0
    Seed of the reference subsets when capped.
bias_metric : {'logit_scale', 'ratio'}, default='logit_scale'
    What ``bias_deviation`` shows: the spread of ``b`` after removing its mean (which a
    softmax ignores) relative to the spread of the class means' logits, meaningful under
    PAL; or the ratio ``||b - mean(b)|| / ||b||``, meaningful when the mean of ``b``
    matters (BCE), but near 1 under PAL whatever ``b`` does and 0/0 at its optimum."""


class Substitution:
    """Fill ``{name}`` placeholder lines of a docstring with shared, re-indented text.

    A placeholder must stand alone on its line; the text is indented like it. Other
    braces in the docstring are left alone (unlike ``str.format``).

    Parameters
    ----------
    **params : str
        Placeholder name to text.

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._docstrings import Substitution
    >>> @Substitution(extra="x : int\\n    An integer.")
    ... def f(x):
    ...     '''Do it.
    ...
    ...     Parameters
    ...     ----------
    ...     {extra}
    ...     '''
    >>> print(f.__doc__.splitlines()[4])
        x : int
    """

    def __init__(self, **params: str) -> None:
        self.params = params

    def __call__(self, obj: Callable[..., Any]) -> Callable[..., Any]:
        doc = obj.__doc__
        if doc:
            lines = []
            for line in doc.split("\n"):
                key = line.strip()
                if key.startswith("{") and key.endswith("}") and key[1:-1] in self.params:
                    indent = line[: len(line) - len(line.lstrip())]
                    lines.append(textwrap.indent(self.params[key[1:-1]], indent))
                else:
                    lines.append(line)
            obj.__doc__ = "\n".join(lines)
        return obj
