"""Reader for MULAN multi-label datasets (an ARFF file plus an XML label file).

A small self-contained ARFF parser: dense rows and sparse rows (``{index value, ...}``),
``numeric``/``real``/``integer`` and nominal attributes, ``%`` comments, quoted names and values,
``?`` for missing feature values; instance weights (a trailing ``,{w}``) are ignored.
``string``, ``date`` and ``relational`` attributes are not supported. See
http://mulan.sourceforge.net/format.html for the format.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

__all__ = ["load_mulan"]

_NUMERIC_TYPES = {"numeric", "real", "integer"}
_UNSUPPORTED_TYPES = {"string", "date", "relational"}
_SPLIT_SUFFIXES = ("-train", "-test", "_train", "_test", ".train", ".test")


class _ArffError(ValueError):
    pass


def _fail(path: Path, lineno: int, message: str) -> _ArffError:
    return _ArffError(f"{path}:{lineno}: {message}")


def _unquote(token: str) -> str:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        body = token[1:-1]
        out = []
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)
    return token


def _split(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside quotes; tokens are stripped and unquoted."""
    if "'" not in text and '"' not in text:
        return [t.strip() for t in text.split(sep)]
    tokens: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == sep:
            tokens.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if quote:
        raise ValueError("unterminated quote")
    tokens.append("".join(current))
    return [_unquote(t) for t in tokens]


def _is_weight(text: str) -> bool:
    """Whether ``text`` is an ARFF instance weight ``{number}``."""
    if not (text.startswith("{") and text.endswith("}")):
        return False
    try:
        float(text[1:-1])
    except ValueError:
        return False
    return True


def _parse_attribute(rest: str, path: Path, lineno: int) -> tuple[str, str, list[str] | None]:
    """Parse what follows ``@attribute``: returns ``(name, kind, nominal_values)``."""
    rest = rest.strip()
    if not rest:
        raise _fail(path, lineno, "@attribute without a name")
    if rest[0] in "'\"":
        q = rest[0]
        i = 1
        while i < len(rest) and rest[i] != q:
            i += 2 if rest[i] == "\\" else 1
        if i >= len(rest):
            raise _fail(path, lineno, "unterminated quoted attribute name")
        name, spec = _unquote(rest[: i + 1]), rest[i + 1 :].strip()
    else:
        parts = rest.split(None, 1)
        name, spec = parts[0], (parts[1].strip() if len(parts) > 1 else "")
    if not spec:
        raise _fail(path, lineno, f"attribute {name!r} has no type")
    if spec.startswith("{"):
        if not spec.endswith("}"):
            raise _fail(path, lineno, f"nominal attribute {name!r}: missing closing '}}'")
        try:
            values = _split(spec[1:-1])
        except ValueError as exc:
            raise _fail(path, lineno, f"nominal attribute {name!r}: {exc}") from None
        if not values or any(v == "" for v in values):
            raise _fail(path, lineno, f"nominal attribute {name!r} has an empty value")
        return name, "nominal", values
    kind = spec.split()[0].lower()
    if kind in _NUMERIC_TYPES:
        return name, "numeric", None
    if kind in _UNSUPPORTED_TYPES:
        raise _fail(path, lineno, f"attribute {name!r}: type {kind!r} is not supported")
    raise _fail(path, lineno, f"attribute {name!r}: unknown type {spec!r}")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return path.read_text(encoding="latin-1")


def _parse_arff(path: Path):
    """Return ``(names, kinds, nominal_values, csr_matrix)`` of an ARFF file.

    Nominal values are stored as their index in the declared value list; ``?`` is NaN.
    """
    names: list[str] = []
    kinds: list[str] = []
    nominal: list[dict[str, int] | None] = []
    lines = _read_text(path).splitlines()
    data_start = 0  # 1-based line number of @data
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        low = line.lower()
        if low.startswith("@relation"):
            continue
        if low.startswith("@attribute"):
            name, kind, values = _parse_attribute(line[len("@attribute") :], path, lineno)
            if name in names:
                raise _fail(path, lineno, f"duplicate attribute name {name!r}")
            names.append(name)
            kinds.append(kind)
            nominal.append(None if values is None else {v: i for i, v in enumerate(values)})
            continue
        if low.startswith("@data"):
            data_start = lineno
            break
        raise _fail(path, lineno, f"unexpected header line {line[:60]!r}")
    if not data_start:
        raise _fail(path, len(lines), "no @data section")
    if not names:
        raise _fail(path, data_start, "no @attribute declarations")

    n_attr = len(names)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    n_rows = 0

    def convert(j: int, token: str, lineno: int) -> float:
        if token == "?":
            return np.nan
        mapping = nominal[j]
        if mapping is None:
            try:
                return float(token)
            except ValueError:
                raise _fail(
                    path, lineno, f"attribute {names[j]!r}: {token!r} is not a number"
                ) from None
        try:
            return float(mapping[token])
        except KeyError:
            raise _fail(
                path,
                lineno,
                f"attribute {names[j]!r}: {token!r} is not one of {list(mapping)}",
            ) from None

    for lineno in range(data_start + 1, len(lines) + 1):
        line = lines[lineno - 1].strip()
        if not line or line.startswith("%"):
            continue
        if line.startswith("@"):
            raise _fail(path, lineno, f"unexpected {line.split()[0]!r} inside @data")
        if line.startswith("{"):
            end = line.find("}")
            if end < 0:
                raise _fail(path, lineno, "sparse row without closing '}'")
            body = line[1:end].strip()
            tail = line[end + 1 :].strip()
            if tail and not (tail.startswith(",") and _is_weight(tail[1:].strip())):
                raise _fail(path, lineno, f"unexpected text after sparse row: {tail[:40]!r}")
            seen: set[int] = set()
            try:
                entries = _split(body) if body else []
            except ValueError as exc:
                raise _fail(path, lineno, str(exc)) from None
            for entry in entries:
                parts = entry.split(None, 1)
                if len(parts) != 2:
                    raise _fail(path, lineno, f"sparse entry {entry!r} is not 'index value'")
                try:
                    j = int(parts[0])
                except ValueError:
                    raise _fail(
                        path, lineno, f"sparse index {parts[0]!r} is not an integer"
                    ) from None
                if not 0 <= j < n_attr:
                    raise _fail(path, lineno, f"sparse index {j} outside [0, {n_attr - 1}]")
                if j in seen:
                    raise _fail(path, lineno, f"sparse index {j} given twice")
                seen.add(j)
                value = convert(j, _unquote(parts[1]), lineno)
                if value != 0:
                    rows.append(n_rows)
                    cols.append(j)
                    vals.append(value)
        else:
            head, sep, weight = line.rpartition(",")
            if sep and _is_weight(weight.strip()):
                line = head
            try:
                tokens = _split(line)
            except ValueError as exc:
                raise _fail(path, lineno, str(exc)) from None
            if len(tokens) != n_attr:
                raise _fail(
                    path, lineno, f"row has {len(tokens)} values, expected {n_attr} attributes"
                )
            for j, token in enumerate(tokens):
                value = convert(j, token, lineno)
                if value != 0:
                    rows.append(n_rows)
                    cols.append(j)
                    vals.append(value)
        n_rows += 1

    matrix = sp.csr_matrix(
        (np.asarray(vals, dtype=np.float64), (np.asarray(rows), np.asarray(cols))),
        shape=(n_rows, n_attr),
    )
    values_lists = [None if m is None else list(m) for m in nominal]
    return names, kinds, values_lists, matrix


def _read_label_names(xml: Path) -> list[str]:
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{xml}: malformed XML label file ({exc})") from None
    names = [
        el.attrib["name"]
        for el in root.iter()
        if isinstance(el.tag, str) and el.tag.rsplit("}", 1)[-1] == "label" and "name" in el.attrib
    ]
    if not names:
        raise ValueError(f"{xml}: no <label name=...> elements found")
    if len(set(names)) != len(names):
        raise ValueError(f"{xml}: duplicate label names")
    return names


def _default_xml(path: Path) -> Path:
    stem = path.stem
    candidates = [path.with_suffix(".xml")]
    for suffix in _SPLIT_SUFFIXES:
        if stem.lower().endswith(suffix):
            candidates.append(path.with_name(stem[: -len(suffix)] + ".xml"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"No MULAN XML label file found for {path} (tried {tried}).")


def load_mulan(
    path: str | os.PathLike,
    xml: str | os.PathLike | None = None,
    *,
    return_X_y: bool = False,
    as_frame: bool = False,
    sparse: bool = False,
    label_order: Literal["arff", "xml"] = "arff",
) -> Bunch | tuple:
    r"""Load a MULAN multi-label dataset: an ARFF file and its XML label file.

    The XML file names the label attributes; every other attribute is a feature. Labels need
    not be the last columns. Label attributes must be nominal (or numeric) with values 0/1.
    Nominal feature attributes are encoded by the index of their value in the declaration;
    missing feature values (``?``) become NaN. In sparse ARFF rows an omitted value is 0 (the
    first declared value for a nominal attribute), as in the ARFF specification.

    Parameters
    ----------
    path : str or path-like
        The ARFF file (dense or sparse rows).
    xml : str or path-like, default=None
        The XML label file. By default the ``.xml`` beside ``path`` with the same stem, or with
        the stem minus a ``-train``/``-test`` (or ``_train``/``_test``) suffix, e.g.
        ``emotions-train.arff`` -> ``emotions.xml``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return pandas DataFrames (columns named by the features / labels); the Bunch also gets
        ``frame``. Incompatible with ``sparse=True``.
    sparse : bool, default=False
        Return the features as a ``scipy.sparse.csr_matrix`` (the target stays dense).
    label_order : {'arff', 'xml'}, default='arff'
        Order of the target columns: as the label attributes appear in the ARFF file (MULAN's
        convention) or as they are listed in the XML file.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (float64, shape ``(n_samples, n_features)``), ``target`` (int64 indicator,
        shape ``(n_samples, n_labels)``), ``feature_names``, ``target_names``, ``frame``
        (or None), ``filename``, ``xml_filename`` and ``DESCR``.
    (data, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If the ARFF file or the XML label file does not exist.
    ValueError
        On malformed input; the message names the file and line.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_mlabnc.datasets import load_mulan
    >>> tmp = Path(tempfile.mkdtemp())
    >>> _ = (tmp / "toy.xml").write_text(
    ...     '<labels xmlns="http://mulan.sourceforge.net/labels">'
    ...     '<label name="rock"></label><label name="jazz"></label></labels>')
    >>> _ = (tmp / "toy-train.arff").write_text(
    ...     "@relation toy\n"
    ...     "@attribute 'mean energy' numeric\n@attribute tempo real\n"
    ...     "@attribute rock {0,1}\n@attribute jazz {0,1}\n"
    ...     "@data\n0.5,120,1,0\n{1 90, 3 1}\n")
    >>> toy = load_mulan(tmp / "toy-train.arff")
    >>> toy.data
    array([[  0.5, 120. ],
           [  0. ,  90. ]])
    >>> toy.target
    array([[1, 0],
           [0, 1]])
    >>> toy.feature_names, toy.target_names
    (['mean energy', 'tempo'], ['rock', 'jazz'])
    """
    if label_order not in ("arff", "xml"):
        raise ValueError(f"label_order must be 'arff' or 'xml', got {label_order!r}.")
    if as_frame and sparse:
        raise ValueError("as_frame=True cannot be combined with sparse=True.")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ARFF file not found: {path}")
    xml_path = _default_xml(path) if xml is None else Path(xml)
    if not xml_path.is_file():
        raise FileNotFoundError(f"XML label file not found: {xml_path}")

    label_names = _read_label_names(xml_path)
    names, kinds, values, matrix = _parse_arff(path)
    index = {name: j for j, name in enumerate(names)}
    missing = [name for name in label_names if name not in index]
    if missing:
        raise ValueError(f"{xml_path}: labels {missing} are not attributes of {path}")
    label_cols = [index[name] for name in label_names]
    if label_order == "arff":
        label_cols.sort()
    label_set = set(label_cols)
    feature_cols = [j for j in range(len(names)) if j not in label_set]

    raw = matrix[:, label_cols].toarray()
    target = np.empty(raw.shape, dtype=np.int64)
    for t, j in enumerate(label_cols):
        column = raw[:, t]
        if np.isnan(column).any():
            raise ValueError(f"{path}: label attribute {names[j]!r} has missing values ('?')")
        if kinds[j] == "nominal":
            try:
                mapped = np.array([float(v) for v in values[j]])
            except ValueError:
                mapped = np.array([np.nan])
            if not np.isin(mapped, (0.0, 1.0)).all():
                raise ValueError(
                    f"{path}: label attribute {names[j]!r} must have values {{0,1}}, "
                    f"got {values[j]}"
                )
            column = mapped[column.astype(np.int64)]
        elif not np.isin(column, (0.0, 1.0)).all():
            raise ValueError(f"{path}: label attribute {names[j]!r} has values other than 0/1")
        target[:, t] = column.astype(np.int64)

    data = matrix[:, feature_cols]
    data = data.tocsr() if sparse else data.toarray()
    feature_names = [names[j] for j in feature_cols]
    target_names = [names[j] for j in label_cols]
    frame = None
    if as_frame:
        import pandas as pd

        data = pd.DataFrame(data, columns=feature_names)
        target = pd.DataFrame(target, columns=target_names)
        frame = pd.concat([data, target], axis=1)
    if return_X_y:
        return data, target
    descr = (
        f"MULAN dataset {path.name} (labels from {xml_path.name}): "
        f"{target.shape[0]} samples, {len(feature_names)} features, {len(target_names)} labels."
    )
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=feature_names,
        target_names=target_names,
        filename=str(path),
        xml_filename=str(xml_path),
        DESCR=descr,
    )
