"""Feature extractors ("backbones") that map flat inputs to penultimate features.

Plain torch modules: no scikit-learn, no skorch. A backbone takes ``(batch, n_inputs)``
and returns ``(batch, n_outputs)`` features; :class:`~sklearn_mlabnc.MLabNCClassifier`
puts a head on top.

scikit-learn estimators only accept 2-D ``X``, so the image backbones (:class:`SmallCNN`,
:class:`ResNet18`) take flattened images of ``n_inputs = prod(input_shape)`` pixels in
C-order (channels, height, width) and reshape them to ``(batch, *input_shape)`` inside
``forward``. Bind ``input_shape`` (and other options) with :func:`functools.partial` to pass
the class as ``MLabNCClassifier(module=...)``, which calls ``module(n_features_in_)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP", "SmallCNN", "ResNet18", "BasicBlock"]


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
    dropout : float, default=0.0
        Dropout probability after every block but the last, so the features themselves are
        never dropped (dropping them would blur the collapse being measured).
    feature_layer : {"hidden", "linear"}, default="hidden"
        The layer that outputs the features. ``"hidden"``: a block like the others
        (``Linear -> BatchNorm -> ReLU``), so the features are non-negative. ``"linear"``:
        a plain ``Linear`` layer with nothing after it, so the features can take any sign
        and have no ReLU offset, as the free features of the unconstrained feature model
        (see :ref:`ufm`); the paper reproduction (``mlabnc reproduce``) trains this way. It
        is the extra ``n_outputs`` layer when that is given, else the last hidden layer.

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
    >>> linear = MLP(10, hidden_layer_sizes=(32,), n_outputs=4, feature_layer="linear")
    >>> type(linear.layers[-1]).__name__, bool((linear(torch.randn(50, 10)) < 0).any())
    ('Linear', True)
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layer_sizes: Sequence[int] = (256, 256),
        n_outputs: int | None = None,
        batch_norm: bool = True,
        dropout: float = 0.0,
        feature_layer: str = "hidden",
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}.")
        if feature_layer not in ("hidden", "linear"):
            raise ValueError(f"feature_layer must be 'hidden' or 'linear'; got {feature_layer!r}.")
        widths = [int(w) for w in hidden_layer_sizes]
        if n_outputs is not None:
            widths.append(int(n_outputs))
        if not widths:
            raise ValueError("MLP needs at least one hidden layer or n_outputs.")
        layers: list[nn.Module] = []
        fan_in = n_inputs
        for i, width in enumerate(widths):
            layers.append(nn.Linear(fan_in, width))
            if feature_layer == "linear" and i == len(widths) - 1:
                break  # the features leave the plain linear layer, any sign
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU())
            if dropout and i < len(widths) - 1:
                layers.append(nn.Dropout(dropout))
            fan_in = width
        self.layers = nn.Sequential(*layers)
        self.n_outputs = widths[-1]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)


def _check_image_shape(n_inputs: int, input_shape: Sequence[int], name: str) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"{name}: input_shape must be three positive ints (channels, height, width); "
            f"got {tuple(input_shape)!r}."
        )
    if int(n_inputs) != math.prod(shape):
        raise ValueError(
            f"{name}: n_inputs={n_inputs} does not match input_shape={shape} "
            f"(expects {math.prod(shape)} = {' x '.join(map(str, shape))} flattened pixels per "
            "row). Pass input_shape matching your images, e.g. "
            f"functools.partial({name}, input_shape=(channels, height, width))."
        )
    return shape


def _to_images(X: torch.Tensor, input_shape: tuple[int, ...], name: str) -> torch.Tensor:
    """Reshape flat ``(batch, prod(input_shape))`` rows to ``(batch, *input_shape)``."""
    if tuple(X.shape[1:]) == input_shape:  # already image-shaped
        return X
    n_inputs = math.prod(input_shape)
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise ValueError(
            f"{name} expects inputs of shape (batch, {n_inputs}) (flattened {input_shape} "
            f"images) or (batch, {', '.join(map(str, input_shape))}); got {tuple(X.shape)}."
        )
    return X.reshape(X.shape[0], *input_shape)


class SmallCNN(nn.Module):
    """Small convolutional backbone for little images given as flat rows.

    Each block is ``Conv3x3 -> BatchNorm -> ReLU -> MaxPool(2)``; global average pooling
    over the last block gives ``channels[-1]`` features, optionally followed by
    ``Linear -> ReLU`` to ``n_outputs`` features. Sized for the 16x16 canvases of
    :func:`~sklearn_mlabnc.datasets.make_multilabel_digits`.

    scikit-learn requires 2-D ``X``, so the network takes flattened images of shape
    ``(batch, n_inputs)`` with ``n_inputs = prod(input_shape)`` (C-order: channels, height,
    width) and reshapes them inside ``forward``; image-shaped ``(batch, *input_shape)``
    tensors are accepted too.

    Parameters
    ----------
    n_inputs : int
        Number of input features; must equal ``prod(input_shape)``.
    input_shape : tuple of int, default=(1, 16, 16)
        ``(channels, height, width)`` of one image.
    channels : sequence of int, default=(32, 64)
        Output channels of each conv block (each block halves the spatial size, rounding
        up).
    n_outputs : int, optional
        Width of an extra ``Linear -> ReLU`` layer after pooling, the feature dimension
        :math:`d`; when ``None`` the pooled ``channels[-1]`` features are returned.
    batch_norm : bool, default=True
        Add ``BatchNorm2d`` after each convolution (the convolutions then have no bias).

    Attributes
    ----------
    n_outputs : int
        The feature dimension :math:`d`.
    input_shape : tuple of int
        The image shape inputs are reshaped to.

    Raises
    ------
    ValueError
        If ``n_inputs != prod(input_shape)`` or ``channels`` is empty.

    See Also
    --------
    ResNet18 : The paper's CIFAR-stem ResNet-18.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc.backbones import SmallCNN
    >>> net = SmallCNN(256, channels=(8, 16))
    >>> net(torch.randn(5, 256)).shape
    torch.Size([5, 16])
    >>> SmallCNN(256, channels=(8,), n_outputs=4)(torch.randn(5, 256)).shape
    torch.Size([5, 4])

    As the module of :class:`~sklearn_mlabnc.MLabNCClassifier`:

    >>> from functools import partial
    >>> from sklearn_mlabnc import MLabNCClassifier
    >>> from sklearn_mlabnc.datasets import make_multilabel_digits
    >>> X, Y = make_multilabel_digits(10, 2, return_X_y=True, random_state=0)
    >>> X.shape
    (190, 256)
    >>> clf = MLabNCClassifier(
    ...     module=partial(SmallCNN, input_shape=(1, 16, 16), channels=(8, 16)),
    ...     max_epochs=1, random_state=0,
    ... ).fit(X, Y)
    >>> clf.transform(X[:3]).shape
    (3, 16)
    """

    def __init__(
        self,
        n_inputs: int,
        input_shape: Sequence[int] = (1, 16, 16),
        channels: Sequence[int] = (32, 64),
        n_outputs: int | None = None,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.input_shape = _check_image_shape(n_inputs, input_shape, "SmallCNN")
        widths = [int(c) for c in channels]
        if not widths:
            raise ValueError("SmallCNN needs at least one conv block in channels.")
        layers: list[nn.Module] = []
        fan_in = self.input_shape[0]
        for width in widths:
            layers.append(nn.Conv2d(fan_in, width, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers += [nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
            fan_in = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if n_outputs is not None:
            layers += [nn.Linear(fan_in, int(n_outputs)), nn.ReLU()]
            fan_in = int(n_outputs)
        self.layers = nn.Sequential(*layers)
        self.n_outputs = fan_in

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(_to_images(X, self.input_shape, "SmallCNN"))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions with batch norm and a residual shortcut.

    ``ReLU(BN(conv3x3(ReLU(BN(conv3x3_stride(x))))) + shortcut(x))``; the shortcut is the
    identity, or ``Conv1x1(stride) -> BatchNorm`` when the stride or width changes.

    Parameters
    ----------
    in_channels : int
        Input channels.
    out_channels : int
        Output channels.
    stride : int, default=1
        Stride of the first convolution (and of the projection shortcut).
    hidden_channels : int, optional
        Output channels of the first convolution; ``None`` (the standard block) uses
        ``out_channels``. :class:`ResNet18` uses it to narrow only the block's output.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc.backbones import BasicBlock
    >>> BasicBlock(4, 8, stride=2)(torch.randn(2, 4, 8, 8)).shape
    torch.Size([2, 8, 4, 4])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        hidden_channels: int | None = None,
    ) -> None:
        super().__init__()
        hidden = out_channels if hidden_channels is None else int(hidden_channels)
        self.conv1 = nn.Conv2d(in_channels, hidden, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(X)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(X))


class ResNet18(nn.Module):
    """CIFAR-stem ResNet-18 backbone (the paper's network), taking flat image rows.

    A ``Conv3x3(stride 1) -> BatchNorm -> ReLU`` stem (no max-pool), four stages of two
    :class:`BasicBlock` each with widths ``(w, 2w, 4w, 8w)`` and strides ``(1, 2, 2, 2)``,
    then global average pooling: ``8w`` features (512 for ``width=64``). A 32x32 input is
    reduced to 32, 16, 8 and 4 pixels a side by the stages. With ``width=64`` plus an
    ``nn.Linear(512, 10)`` head this is the usual CIFAR ResNet-18 of 11,173,962 parameters.

    ``n_outputs`` realises the paper's efficient setting :math:`d = K` inside the network
    rather than with an extra layer: the *last* basic block of stage 4 outputs
    ``n_outputs`` channels instead of ``8w``. Its first convolution keeps ``8w -> 8w``; its
    second becomes ``8w -> n_outputs`` and its identity shortcut a ``1x1`` conv + batch norm
    projection ``8w -> n_outputs``. For ``width=64`` and ``n_outputs=10`` the backbone has
    8,859,752 parameters instead of 11,168,832 (2,309,080 or 20.7% fewer); with a fixed
    simplex ETF head (only its 10-entry bias trained) the model trains 8,859,762
    parameters, against 11,173,962 for the standard network with a learned 512 -> 10
    linear head (20.7% fewer, the "about 20%" of the paper's efficient training).

    scikit-learn requires 2-D ``X``, so the network takes flattened images of shape
    ``(batch, n_inputs)`` with ``n_inputs = prod(input_shape)`` (C-order: channels, height,
    width) and reshapes them inside ``forward``; image-shaped ``(batch, *input_shape)``
    tensors are accepted too.

    Parameters
    ----------
    n_inputs : int
        Number of input features; must equal ``prod(input_shape)``.
    input_shape : tuple of int, default=(3, 32, 32)
        ``(channels, height, width)`` of one image.
    n_outputs : int, optional
        Feature dimension :math:`d`, set as the output width of the last basic block;
        ``None`` keeps ``8 * width``.
    width : int, default=64
        Width ``w`` of the first stage (64 is the standard ResNet-18); small values such as
        8 give a fast network for tests and CPU demos.

    Attributes
    ----------
    n_outputs : int
        The feature dimension :math:`d`.
    input_shape : tuple of int
        The image shape inputs are reshaped to.

    Raises
    ------
    ValueError
        If ``n_inputs != prod(input_shape)``.

    See Also
    --------
    SmallCNN : A much smaller conv net for 16x16 digit canvases.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc.backbones import ResNet18
    >>> net = ResNet18(3 * 32 * 32, width=8)
    >>> net(torch.randn(2, 3072)).shape
    torch.Size([2, 64])
    >>> ResNet18(256, input_shape=(1, 16, 16), width=8, n_outputs=10).n_outputs
    10
    >>> standard = ResNet18(3072)
    >>> sum(p.numel() for p in standard.parameters()) + 512 * 10 + 10
    11173962
    """

    def __init__(
        self,
        n_inputs: int,
        input_shape: Sequence[int] = (3, 32, 32),
        n_outputs: int | None = None,
        width: int = 64,
    ) -> None:
        super().__init__()
        self.input_shape = _check_image_shape(n_inputs, input_shape, "ResNet18")
        width = int(width)
        if width < 1:
            raise ValueError(f"ResNet18: width must be a positive int; got {width}.")
        self.stem = nn.Sequential(
            nn.Conv2d(self.input_shape[0], width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        widths = [width, 2 * width, 4 * width, 8 * width]
        out_width = 8 * width if n_outputs is None else int(n_outputs)
        fan_in = width
        stages = []
        for stage, (stage_width, stride) in enumerate(zip(widths, (1, 2, 2, 2), strict=True)):
            last_width = out_width if stage == 3 else stage_width
            stages.append(
                nn.Sequential(
                    BasicBlock(fan_in, stage_width, stride),
                    BasicBlock(stage_width, last_width, hidden_channels=stage_width),
                )
            )
            fan_in = last_width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.n_outputs = out_width

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        out = self.stem(_to_images(X, self.input_shape, "ResNet18"))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.pool(out)
