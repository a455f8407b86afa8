"""The saved-model file format and atomic file writes: safetensors tensors plus JSON metadata.

One ``.safetensors`` file holds named tensors; its header metadata holds the format name,
the format version and JSON documents. Reading executes no code from the file, so a model
from an untrusted source is safe to open; the header (metadata, tensor names, dtypes and
shapes) is handed to a check before any tensor is read. What the tensors and documents mean
is up to the estimator that writes them (see ``MLabNCClassifier._fitted_state``).

Every file the library writes goes through :func:`atomic_writer`: a temporary file in the
destination folder, flushed and fsynced, then renamed over the destination, so a write that
fails half-way leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

FORMAT = "sklearn_mlabnc.MLabNCClassifier"
FORMAT_VERSION = 1
#: Tensor-name prefixes in saved files: the network's state dict, the prototype arrays.
NETWORK_PREFIX = "network."
PROTOTYPES_PREFIX = "prototypes."
_CHUNK = 1 << 20  # bytes per write call


@contextlib.contextmanager
def atomic_writer(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; on success, fsync it and rename it to ``path``.

    A failure at any point (an exception in the ``with`` body, a full disk, an interrupted
    process) leaves ``path`` as it was and removes the temporary file. I/O problems surface
    as the standard exceptions (``FileNotFoundError`` for a missing folder,
    ``IsADirectoryError``, ``PermissionError``, ``OSError``) naming ``path``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_writer(path, "w") as file:
    ...     _ = file.write("kept")
    >>> try:
    ...     with atomic_writer(path, "w") as file:
    ...         _ = file.write("half")
    ...         raise OSError("disk full")
    ... except OSError:
    ...     pass
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('kept', ['notes.txt'])
    """
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise IsADirectoryError(21, f"Cannot write {path}: it is a directory", str(path))
    if not folder.is_dir():
        raise FileNotFoundError(
            2, f"Cannot write {path}: the folder {folder} does not exist", str(path)
        )
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        with os.fdopen(fd, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _new_file_mode(path))
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from exc
        raise
    _sync_folder(folder)


def write_bytes(path, data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically; return the path.

    Examples
    --------
    >>> import tempfile
    >>> write_bytes(tempfile.mkdtemp() + "/r.md", "# report\\n").read_text()
    '# report\\n'
    """
    data = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_writer(path) as file:
        write_all(file, data)
    return Path(path)


def write_figure(figure, path, **savefig_kwargs) -> Path:
    """Save a matplotlib ``figure`` to ``path`` atomically, its format from the suffix.

    Examples
    --------
    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> drawn = SimpleNamespace(savefig=lambda file, format, **kw: file.write(b"<svg/>"))
    >>> write_figure(drawn, tempfile.mkdtemp() + "/f.svg").read_bytes()
    b'<svg/>'
    """
    path = Path(path)
    with atomic_writer(path) as file:
        figure.savefig(file, format=path.suffix.lstrip(".") or None, **savefig_kwargs)
    return path


def write_all(file, data: bytes) -> None:
    """Write ``data`` to ``file`` in chunks."""
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        file.write(view[start : start + _CHUNK])


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` as the same exception type, its message naming the destination ``path``."""
    if exc.errno is None:
        return type(exc)(f"Cannot write {path}: {exc}")
    return type(exc)(exc.errno, f"Cannot write {path}: {exc.strerror}", str(path))


def _new_file_mode(path: Path) -> int:
    """The mode a plain ``open(path, "w")`` would give: the old file's, else 0o666 - umask."""
    with contextlib.suppress(OSError):
        return os.stat(path).st_mode & 0o7777
    return 0o666 & ~_umask()


def _umask() -> int:
    # Read, not set-and-restore: os.umask would change it for every thread meanwhile.
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _sync_folder(folder: Path) -> None:
    """Make the rename durable; not every platform can open a folder for fsync."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_model(path, tensors: dict[str, torch.Tensor], documents: dict[str, object]) -> Path:
    """Write ``tensors`` and the JSON ``documents`` to ``path`` atomically; return the path.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = write_model(tempfile.mkdtemp() + "/m.safetensors", {"w": torch.ones(2)},
    ...                    {"params": {"lr": 0.1}})
    >>> read_model(path)[0]["params"], read_model(path)[1]["w"].tolist()
    ({'lr': 0.1}, [1.0, 1.0])
    """
    from safetensors.torch import save

    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    for key, value in documents.items():
        metadata[key] = json.dumps(jsonable(value))
    tensors = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    return write_bytes(path, save(tensors, metadata=metadata))


def read_model(path, check=None) -> tuple[dict[str, object], dict[str, torch.Tensor]]:
    """The JSON documents and the tensors of a file written by :func:`write_model`.

    ``check(documents, header)``, when given, runs before any tensor is read, with
    ``header`` mapping each tensor name to its ``(dtype, shape)`` as the file declares them
    (safetensors dtype names such as ``"F32"``); it raises ``ValueError`` to refuse the file.
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the problem for
    a file that is not a model, is damaged, or comes from a newer format version.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, f"No saved model at {path}", str(path))
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            documents = _documents(path, metadata)
            if check is not None:
                header = {}
                for key in handle.keys():
                    part = handle.get_slice(key)
                    header[key] = (part.get_dtype(), tuple(part.get_shape()))
                check(documents, header)
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError) as exc:
        raise ValueError(
            f"{path} is not a readable sklearn_mlabnc model file (corrupted or truncated?): {exc}"
        ) from exc
    return documents, tensors


def _documents(path: Path, metadata: dict) -> dict[str, object]:
    """The JSON documents of a model file's metadata, its format and version checked."""
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
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: deep nesting
        raise ValueError(f"{path} has damaged metadata in {key!r}: {exc}") from exc
    return documents


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
