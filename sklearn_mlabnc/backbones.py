"""Feature extractors ("backbones") that map flat inputs to penultimate features.

Plain torch modules: no scikit-learn, no skorch. A backbone takes ``(batch, n_inputs)``
and returns ``(batch, n_outputs)`` features; :class:`MLabNCClassifier` puts a head on top.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """Multi-layer perceptron backbone: ``Linear -> BatchNorm -> ReLU`` blocks.

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    hidden_layer_sizes : sequence of int, default=(256, 256)
        Width of each hidden block.
    n_outputs : int, optional
        Width of an extra final block, the feature dimension :math:`d`; when ``None`` the
        last hidden block gives the features.
    batch_norm : bool, default=True
        Add ``BatchNorm1d`` after each linear layer (helps plain SGD at the paper's
        learning rate of 0.1).

    Attributes
    ----------
    n_outputs : int
        The feature dimension :math:`d`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc.backbones import MLP
    >>> net = MLP(10, hidden_layer_sizes=(32,), n_outputs=4)
    >>> net(torch.randn(5, 10)).shape
    torch.Size([5, 4])
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layer_sizes: Sequence[int] = (256, 256),
        n_outputs: int | None = None,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        widths = [int(w) for w in hidden_layer_sizes]
        if n_outputs is not None:
            widths.append(int(n_outputs))
        if not widths:
            raise ValueError("MLP needs at least one hidden layer or n_outputs.")
        layers: list[nn.Module] = []
        fan_in = n_inputs
        for width in widths:
            layers.append(nn.Linear(fan_in, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU())
            fan_in = width
        self.layers = nn.Sequential(*layers)
        self.n_outputs = fan_in

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)
