"""Training precision: which devices compute bfloat16 natively, and what ``precision`` means.

``precision="auto"`` trains under bfloat16 autocast where the device has bfloat16 matrix
units and in float32 elsewhere:

- CUDA devices of compute capability 8.0 or later (A100, H100, RTX 30xx and later);
- CPUs with AMX or AVX-512 BF16 (Intel Sapphire Rapids and later, AMD Zen 4 and later),
  or Arm CPUs with the BF16 extension, detected at run time.

Evaluation-mode forward passes (prediction, ``transform``, collapse measurements) run in
float32 whatever the precision (see :class:`~sklearn_mlabnc.MLabNCNetwork`).
"""

from __future__ import annotations

import functools

import torch
from sklearn.utils._param_validation import validate_params

__all__ = ["native_bfloat16"]

#: ``precision`` value -> autocast dtype of training forward passes (None: plain float32).
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}
#: The values the ``precision`` parameter accepts.
PRECISION_OPTIONS = {"auto", *PRECISIONS}

# /proc/cpuinfo flags of native bfloat16 arithmetic (x86: AMX, AVX-512 BF16; Arm: BF16).
_CPU_BF16_FLAGS = {"amx_bf16", "avx512_bf16", "bf16"}
# torch's own run-time probes, where this torch version has them (private, so optional).
_TORCH_CPU_PROBES = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")


@validate_params({"device": [str, torch.device]}, prefer_skip_nested_validation=True)
def native_bfloat16(device: str | torch.device = "cpu") -> bool:
    """Whether ``device`` has native bfloat16 matrix units, as ``precision="auto"`` sees it.

    Parameters
    ----------
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    bool
        True for CUDA devices of compute capability 8.0 or later and for CPUs with AMX,
        AVX-512 BF16 or Arm BF16 instructions; there ``precision="auto"`` trains in
        bfloat16, elsewhere in float32.

    Examples
    --------
    >>> from sklearn_mlabnc import native_bfloat16
    >>> isinstance(native_bfloat16("cpu"), bool)
    True
    """
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        return _cpu_bfloat16()
    return False


def resolve_precision(precision: str, device) -> str:
    """The precision a fit on ``device`` uses: ``"float32"`` or ``"bfloat16"``."""
    if precision != "auto":
        return precision
    return "bfloat16" if native_bfloat16(torch.device(device)) else "float32"


@functools.cache
def _cpu_bfloat16() -> bool:
    for name in _TORCH_CPU_PROBES:
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:  # a probe torch was built without
            continue
    return bool(_cpu_flags() & _CPU_BF16_FLAGS)


def _cpu_flags() -> set[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:  # not Linux: rely on torch's probes
        pass
    return set()
