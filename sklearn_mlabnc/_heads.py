"""Classifier heads: the fixed simplex equiangular tight frame (ETF) and a learned linear head.

Plain torch: no scikit-learn, no skorch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SimplexETFHead", "simplex_etf"]


def simplex_etf(
    n_classes: int,
    n_features: int | None = None,
    *,
    embedding: str = "identity",
    random_state: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    r"""Unit-row simplex equiangular tight frame, shape ``(n_classes, n_features)``.

    The rows of :math:`U = \sqrt{K/(K-1)}\,(I_K - \mathbf{1}\mathbf{1}^\top/K)` have unit norm
    and pairwise cosine :math:`-1/(K-1)`, so :math:`U U^\top = K/(K-1)(I - \mathbf{1}
    \mathbf{1}^\top/K)`. For ``n_features > n_classes`` the frame is embedded with a
    ``n_features x n_classes`` partial isometry :math:`P` (:math:`P^\top P = I`), giving
    :math:`U P^\top`; the Gram matrix is unchanged.

    Parameters
    ----------
    n_classes : int
        Number of rows :math:`K` (at least 2).
    n_features : int, optional
        Number of columns :math:`d \ge K`; defaults to ``n_classes``.
    embedding : {"identity", "random"}, default="identity"
        ``"identity"`` pads with zero columns, ``[U | 0]`` (the paper's code); ``"random"``
        uses a random orthonormal :math:`P`, drawn from ``random_state``.
    random_state : int, optional
        Seed for ``embedding="random"``.
    dtype : torch.dtype, default=torch.float32
        Floating dtype of the result.

    Returns
    -------
    torch.Tensor
        The frame, one unit-norm row per class.

    Examples
    --------
    >>> from sklearn_mlabnc import simplex_etf
    >>> U = simplex_etf(3, 4)
    >>> U.shape
    torch.Size([3, 4])
    >>> (U @ U.T).diagonal()
    tensor([1., 1., 1.])
    >>> round(float(U[0] @ U[1]), 6)
    -0.5
    """
    n_features = n_classes if n_features is None else n_features
    if n_classes < 2:
        raise ValueError(f"A simplex ETF needs at least 2 classes; got n_classes={n_classes}.")
    if n_features < n_classes:
        raise ValueError(
            f"A simplex ETF of {n_classes} classes needs n_features >= {n_classes}; got "
            f"{n_features}. Increase the feature dimension (e.g. feature_dim='n_classes')."
        )
    if embedding not in ("identity", "random"):
        raise ValueError(f"embedding must be 'identity' or 'random'; got {embedding!r}.")
    eye = torch.eye(n_classes, dtype=torch.float64)
    frame = math.sqrt(n_classes / (n_classes - 1)) * (eye - 1.0 / n_classes)
    if embedding == "identity":
        embedded = torch.zeros(n_classes, n_features, dtype=torch.float64)
        embedded[:, :n_classes] = frame
    else:
        generator = torch.Generator().manual_seed(0 if random_state is None else random_state)
        gaussian = torch.randn(n_features, n_classes, generator=generator, dtype=torch.float64)
        isometry, _ = torch.linalg.qr(gaussian)  # (d, K) with orthonormal columns
        embedded = frame @ isometry.T
    return embedded.to(dtype)


class SimplexETFHead(nn.Module):
    """Linear classifier whose weight is a fixed simplex ETF; only the bias is trained.

    The weight is a registered buffer, not a parameter, so no optimizer ever sees it and it
    moves with the module across devices and into ``state_dict``.

    Parameters
    ----------
    n_features : int
        Input (penultimate feature) dimension :math:`d \\ge K`.
    n_classes : int
        Number of outputs :math:`K`.
    embedding : {"identity", "random"}, default="identity"
        How the :math:`K`-dimensional frame is placed in :math:`d` dimensions, see
        :func:`simplex_etf`.
    random_state : int, optional
        Seed for ``embedding="random"``.
    bias : bool, default=True
        Whether to learn a bias.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc import SimplexETFHead
    >>> head = SimplexETFHead(n_features=5, n_classes=3)
    >>> head(torch.ones(2, 5)).shape
    torch.Size([2, 3])
    >>> [name for name, _ in head.named_parameters()]
    ['bias']
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        embedding: str = "identity",
        random_state: int | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        etf = simplex_etf(n_classes, n_features, embedding=embedding, random_state=random_state)
        self.register_buffer("weight", etf)
        self.bias = nn.Parameter(torch.zeros(n_classes)) if bias else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(features, self.weight.to(features.dtype), self.bias)
