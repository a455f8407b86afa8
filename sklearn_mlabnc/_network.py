"""The trained network: a backbone, an optional projection to the feature dimension, a head.

Plain torch: no scikit-learn, no skorch.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ._heads import SimplexETFHead

__all__ = ["MLabNCNetwork"]


class MLabNCNetwork(nn.Module):
    """Backbone plus classifier head, returning ``(logits, features)``.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps ``(batch, n_inputs)`` to ``(batch, d_backbone)`` features.
    n_outputs : int
        Number of logits :math:`K`.
    head : {"linear", "etf"}, default="linear"
        A learned ``nn.Linear`` head, or a fixed :class:`SimplexETFHead` (bias trained).
    feature_dim : int, optional
        When given and different from the backbone's output width, a learned linear
        projection maps the backbone output to ``feature_dim`` features.
    n_backbone_outputs : int, optional
        The backbone's output width; inferred with one dry forward pass of
        ``example_input`` when omitted.
    example_input : torch.Tensor, optional
        A small batch used to infer the backbone's output width, or to check the given
        ``n_backbone_outputs`` against it.
    etf_embedding : {"identity", "random"}, default="identity"
        Embedding of the simplex ETF for ``head="etf"``.
    random_state : int, optional
        Seed of a random ETF embedding.
    autocast_dtype : torch.dtype, optional
        Run training-mode forward passes under ``torch.autocast`` with this dtype (e.g.
        bfloat16); outputs are returned in float32. Evaluation-mode passes (prediction,
        validation losses, collapse measurements) always run in float32, so the features
        the collapse metrics see keep float32 precision and do not depend on how the model
        was trained.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc import MLabNCNetwork
    >>> from sklearn_mlabnc.backbones import MLP
    >>> net = MLabNCNetwork(MLP(8, (16,)), n_outputs=3, head="etf", n_backbone_outputs=16)
    >>> logits, features = net(torch.randn(4, 8))
    >>> logits.shape, features.shape
    (torch.Size([4, 3]), torch.Size([4, 16]))
    """

    def __init__(
        self,
        backbone: nn.Module,
        n_outputs: int,
        head: str = "linear",
        feature_dim: int | None = None,
        n_backbone_outputs: int | None = None,
        example_input: torch.Tensor | None = None,
        etf_embedding: str = "identity",
        random_state: int | None = None,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        if n_backbone_outputs is None:
            n_backbone_outputs = _infer_output_width(backbone, example_input)
        elif example_input is not None:  # check the declared width against the real one
            actual = _infer_output_width(backbone, example_input)
            if actual != n_backbone_outputs:
                raise ValueError(
                    f"The backbone module declares {n_backbone_outputs} output features "
                    f"(n_outputs) but returns {actual}; make them agree."
                )
        self.projection: nn.Module = nn.Identity()
        if feature_dim is not None and feature_dim != n_backbone_outputs:
            self.projection = nn.Linear(n_backbone_outputs, feature_dim)
        self.n_features = feature_dim if feature_dim is not None else n_backbone_outputs
        if head == "linear":
            self.head: nn.Module = nn.Linear(self.n_features, n_outputs)
        elif head == "etf":
            self.head = SimplexETFHead(
                self.n_features, n_outputs, embedding=etf_embedding, random_state=random_state
            )
        else:
            raise ValueError(f"head must be 'linear' or 'etf'; got {head!r}.")
        self.autocast_dtype = autocast_dtype

    def forward(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Even a disabled autocast context costs microseconds a call: enter one only when used.
        # Only training runs in reduced precision: at the terminal phase NC1 falls to 1e-3 and
        # below, where bfloat16's 8-bit mantissa (~3 significant digits) would dominate the
        # within-class variability the metrics measure.
        context = (
            contextlib.nullcontext()
            if self.autocast_dtype is None or not self.training
            else torch.autocast(device_type=X.device.type, dtype=self.autocast_dtype)
        )
        with context:
            features = self.projection(self.backbone(X))
            logits = self.head(features)
        return logits.float(), features.float()


def _infer_output_width(backbone: nn.Module, example_input: torch.Tensor | None) -> int:
    if example_input is None:
        raise ValueError("Pass n_backbone_outputs or an example_input to infer it.")
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        out = backbone(example_input)
    backbone.train(was_training)
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = getattr(out, "shape", type(out).__name__)
        raise TypeError(
            "The backbone module must return a 2-D tensor of features (batch, d); "
            f"it returned {shape}. Flatten the output inside the module's forward."
        )
    if out.shape[0] != example_input.shape[0] or out.shape[1] < 1:
        raise ValueError(
            "The backbone module must return one row of at least one feature per input "
            f"row: for a batch of {example_input.shape[0]} it returned shape "
            f"{tuple(out.shape)}."
        )
    return int(out.shape[1])
