"""Read MULAN multi-label datasets: an ARFF file (parsed by liac-arff) and its XML label file.

The ARFF file is read by ``liac-arff`` (the parser scikit-learn uses for ``fetch_openml``):
dense and sparse rows, numeric, nominal and string attributes, quoted names and values, ``%``
comments and ``?`` for missing values. What is MULAN-specific lives here: the XML file that
names the label attributes, the labels' positions among the attributes, and finding the XML
file of a ``-train``/``-test`` split. See http://mulan.sourceforge.net/format.html.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import arff
import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from ._frames import as_frames

__all__ = ["load_mulan"]

_SPLIT_SUFFIXES = ("-train", "-test", "_train", "_test", ".train", ".test")
# A trailing ARFF instance weight, ``,{0.5}``, which liac-arff does not read.
_WEIGHT = re.compile(r",\s*\{\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*\}\s*$")


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    # Instance weights are dropped in place, so liac-arff's line numbers stay the file's.
    return [
        line if line.lstrip().startswith("@") else _WEIGHT.sub("", line)
        for line in text.splitlines()
    ]


def _decode(path: Path) -> dict[str, Any]:
    """liac-arff's decoding of ``path``: rows as dicts (sparse files) or lists (dense files).

    Sparse files are read as a list of dicts, holding only the non-zero entries (a dense
    list would hold every zero of a wide sparse file). The dict reader refuses dense rows,
    so a dense file is read again by the list reader, which takes dense and sparse rows.
    Nominal values are encoded by their index in the declaration.
    """
    lines = _read_lines(path)
    try:
        try:
            return arff.load(iter(lines), encode_nominal=True, return_type=arff.LOD)
        except arff.BadLayout:
            return arff.load(iter(lines), encode_nominal=True, return_type=arff.DENSE)
    except arff.ArffException as exc:
        raise ValueError(f"{path}: {exc}") from None


def _entries(rows: list[Any]) -> Iterator[tuple[int, int, Any]]:
    """``(row, column, value)`` of every stored value (all of them for dense rows)."""
    for i, row in enumerate(rows):
        for j, value in row.items() if isinstance(row, dict) else enumerate(row):
            yield i, j, value


def _columns(decoded: dict[str, Any]) -> tuple[sp.csr_matrix, dict[int, np.ndarray]]:
    """Numeric and nominal attributes as one float64 CSR matrix; string attributes apart.

    Missing values are NaN. String attributes are zero in the matrix and returned as object
    arrays ``{column: values}`` (``None`` where missing).
    """
    attributes, rows = decoded["attributes"], decoded["data"]
    n_rows, n_cols = len(rows), len(attributes)
    strings = {
        j: np.full(n_rows, "", dtype=object)
        for j, (_, kind) in enumerate(attributes)
        if kind == "STRING"
    }
    r, c, v = [], [], []
    for i, j, value in _entries(rows):
        if j in strings:
            strings[j][i] = value
        elif value is None or value != 0:
            r.append(i)
            c.append(j)
            v.append(np.nan if value is None else value)
    matrix = sp.csr_matrix(
        (
            np.asarray(v, dtype=np.float64),
            (np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)),
        ),
        shape=(n_rows, n_cols),
    )
    return matrix, strings


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


def _target(
    matrix: sp.csr_matrix, attributes: list[tuple[str, Any]], label_cols: list[int], path: Path
) -> np.ndarray:
    """The 0/1 int64 label matrix; nominal labels are decoded through their declared values."""
    raw = matrix[:, label_cols].toarray()
    target = np.empty(raw.shape, dtype=np.int64)
    for t, j in enumerate(label_cols):
        name, kind = attributes[j]
        column = raw[:, t]
        if np.isnan(column).any():
            raise ValueError(f"{path}: label attribute {name!r} has missing values ('?')")
        if kind == "STRING":
            raise ValueError(
                f"{path}: label attribute {name!r} is a string attribute; declare it nominal "
                "{0,1} or numeric."
            )
        if isinstance(kind, list):  # nominal: the column holds indices into the declaration
            try:
                mapped = np.array([float(value) for value in kind])
            except ValueError:
                mapped = np.array([np.nan])
            if not np.isin(mapped, (0.0, 1.0)).all():
                raise ValueError(
                    f"{path}: label attribute {name!r} must have values {{0,1}}, got {kind}"
                )
            column = mapped[column.astype(np.int64)]
        elif not np.isin(column, (0.0, 1.0)).all():
            raise ValueError(f"{path}: label attribute {name!r} has values other than 0/1")
        target[:, t] = column.astype(np.int64)
    return target


@validate_params(
    {
        "path": [str, os.PathLike],
        "xml": [str, os.PathLike, None],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
        "sparse": ["boolean"],
        "label_order": [StrOptions({"arff", "xml"})],
    },
    prefer_skip_nested_validation=True,
)
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
    first declared value for a nominal attribute), as in the ARFF specification. String
    feature attributes are kept as strings, so they need ``as_frame=True``. The ARFF file is
    parsed by ``liac-arff``; instance weights (a trailing ``,{w}``) are ignored.

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
        On malformed input (the message names the file, and the line for ARFF errors), or
        string feature attributes without ``as_frame=True``.

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
    if as_frame and sparse:
        raise ValueError(
            "as_frame=True cannot be combined with sparse=True; pass one of them only."
        )
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ARFF file not found: {path}")
    xml_path = _default_xml(path) if xml is None else Path(xml)
    if not xml_path.is_file():
        raise FileNotFoundError(f"XML label file not found: {xml_path}")

    label_names = _read_label_names(xml_path)
    decoded = _decode(path)
    attributes = decoded["attributes"]
    matrix, strings = _columns(decoded)
    index = {name: j for j, (name, _) in enumerate(attributes)}
    missing = [name for name in label_names if name not in index]
    if missing:
        raise ValueError(f"{xml_path}: labels {missing} are not attributes of {path}")
    label_cols = [index[name] for name in label_names]
    if label_order == "arff":
        label_cols.sort()
    label_set = set(label_cols)
    feature_cols = [j for j in range(len(attributes)) if j not in label_set]
    feature_names = [attributes[j][0] for j in feature_cols]
    target_names = [attributes[j][0] for j in label_cols]
    target = _target(matrix, attributes, label_cols, path)

    string_features = [attributes[j][0] for j in feature_cols if j in strings]
    if string_features and not as_frame:
        raise ValueError(
            f"{path}: string attributes {string_features} cannot be stored in a float array; "
            "pass as_frame=True to get them as DataFrame columns."
        )
    data = matrix[:, feature_cols]
    data = data.tocsr() if sparse else data.toarray()
    frame = None
    if as_frame:
        columns = {name: data[:, k] for k, name in enumerate(feature_names)}
        columns.update({attributes[j][0]: strings[j] for j in feature_cols if j in strings})
        data, target, frame = as_frames(columns, target, feature_names, target_names)
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
