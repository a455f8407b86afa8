"""The saved-model file format: safetensors tensors plus JSON metadata, checked on reading.

One ``.safetensors`` file holds named tensors; its header metadata holds the format name,
the format version and JSON documents. Reading executes no code from the file, so a model
from an untrusted source is safe to open. What the tensors and documents mean is up to the
estimator that writes them (see ``MLabNCClassifier._fitted_state``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

FORMAT = "sklearn_mlabnc.MLabNCClassifier"
FORMAT_VERSION = 1


def write_model(path, tensors: dict[str, torch.Tensor], documents: dict[str, object]) -> Path:
    """Write ``tensors`` and the JSON ``documents`` to ``path``; return the path.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = write_model(tempfile.mkdtemp() + "/m.safetensors", {"w": torch.ones(2)},
    ...                    {"params": {"lr": 0.1}})
    >>> read_model(path)[0]["params"], read_model(path)[1]["w"].tolist()
    ({'lr': 0.1}, [1.0, 1.0])
    """
    from safetensors.torch import save_file

    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    for key, value in documents.items():
        metadata[key] = json.dumps(jsonable(value))
    tensors = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    path = Path(path)
    save_file(tensors, str(path), metadata=metadata)
    return path


def read_model(path) -> tuple[dict[str, object], dict[str, torch.Tensor]]:
    """The JSON documents and the tensors of a file written by :func:`write_model`.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the problem for
    a file that is not a model, is damaged, or comes from a newer format version.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved model at {path}.")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a readable sklearn_mlabnc model file (corrupted or truncated?): {exc}"
        ) from exc
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} was not written by MLabNCClassifier.save().")
    try:
        version = int(metadata.get("format_version", "0"))
    except ValueError as exc:
        raise ValueError(f"{path} has damaged metadata: {exc}") from exc
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} uses model format {version}, newer than this library's "
            f"{FORMAT_VERSION}; upgrade sklearn_mlabnc to load it."
        )
    documents = {}
    try:
        for key, value in metadata.items():
            if key not in ("format", "format_version"):
                documents[key] = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} has damaged metadata: {exc}") from exc
    return documents, tensors


def jsonable(value):
    """``value`` with numpy scalars and arrays turned into Python ones, tuples into lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    return value
