"""The standard MULAN benchmark splits, found in one folder that the user names.

The MULAN repository distributes most benchmarks as ``NAME-train.arff`` / ``NAME-test.arff``
(a fixed split) beside ``NAME.xml``, and a few as one file ``NAME.arff`` (no split: the usual
protocol is k-fold cross-validation). :func:`load_mulan_benchmark` reads either kind from a
folder passed as ``data_dir`` or named by the ``MLABNC_DATA_DIR`` environment variable, so
that scripts, the command line and the documentation read the data from the same place.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from ._mulan import load_mulan

__all__ = ["DATA_DIR_VARIABLE", "get_mulan_dir", "load_mulan_benchmark"]

#: The environment variable naming the folder of the MULAN files.
DATA_DIR_VARIABLE = "MLABNC_DATA_DIR"


@validate_params({"data_dir": [str, os.PathLike, None]}, prefer_skip_nested_validation=True)
def get_mulan_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding the MULAN benchmark files.

    Parameters
    ----------
    data_dir : str or path-like, default=None
        The folder. By default the one named by the ``MLABNC_DATA_DIR`` environment variable.

    Returns
    -------
    pathlib.Path
        The folder, with ``~`` expanded. It is not checked for content.

    Raises
    ------
    FileNotFoundError
        If ``data_dir`` is None and ``MLABNC_DATA_DIR`` is unset or empty, or if the folder
        does not exist.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_mlabnc.datasets import get_mulan_dir
    >>> folder = tempfile.mkdtemp()
    >>> str(get_mulan_dir(folder)) == folder
    True
    >>> get_mulan_dir(folder + "/missing")
    Traceback (most recent call last):
    ...
    FileNotFoundError: The MULAN data folder '.../missing' does not exist
    """
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_VARIABLE) or None
        if data_dir is None:
            raise FileNotFoundError(
                "No folder of MULAN data given: pass data_dir, or set the environment variable "
                f"{DATA_DIR_VARIABLE} to the folder holding the .arff and .xml files "
                "(http://mulan.sourceforge.net/datasets-mlc.html)"
            )
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"The MULAN data folder {str(folder)!r} does not exist")
    return folder


@validate_params(
    {
        "name": [str],
        "subset": [StrOptions({"train", "test", "all"})],
        "data_dir": [str, os.PathLike, None],
        "return_X_y": ["boolean"],
        "sparse": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_mulan_benchmark(
    name: str,
    subset: Literal["train", "test", "all"] = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    return_X_y: bool = False,
    sparse: bool = False,
) -> Bunch | tuple:
    """Load a MULAN benchmark by name: its standard train or test split, or the whole file.

    Parameters
    ----------
    name : str
        The benchmark's file stem, e.g. ``"emotions"``, ``"yeast"``, ``"enron"`` (split into
        ``NAME-train.arff`` and ``NAME-test.arff``) or ``"CAL500"`` (one ``NAME.arff``).
    subset : {'train', 'test', 'all'}, default='train'
        The split. ``"all"`` reads ``NAME.arff`` when there is one, else the train split
        followed by the test split. A benchmark with no split has only ``"all"``.
    data_dir : str or path-like, default=None
        The folder of the files; by default the one named by ``MLABNC_DATA_DIR``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    sparse : bool, default=False
        Return the features as a ``scipy.sparse.csr_matrix`` (the target stays dense).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_mulan` returns it. For ``subset="all"`` on a split benchmark,
        ``filename`` is the train file's.
    (data, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If the folder or the benchmark's files are missing; the message lists what was looked
        for.

    See Also
    --------
    load_mulan : read any MULAN ARFF file and its XML label file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_mlabnc.datasets import load_mulan_benchmark
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "toy.xml").write_text(
    ...     '<labels xmlns="http://mulan.sourceforge.net/labels">'
    ...     '<label name="a"></label><label name="b"></label></labels>')
    >>> header = "@relation toy\\n@attribute x numeric\\n"
    >>> header += "@attribute a {0,1}\\n@attribute b {0,1}\\n"
    >>> _ = (folder / "toy-train.arff").write_text(header + "@data\\n0.5,1,0\\n1.5,0,1\\n")
    >>> _ = (folder / "toy-test.arff").write_text(header + "@data\\n2.5,1,1\\n")
    >>> X, Y = load_mulan_benchmark("toy", "test", data_dir=folder, return_X_y=True)
    >>> X, Y
    (array([[2.5]]), array([[1, 1]]))
    >>> load_mulan_benchmark("toy", "all", data_dir=folder).target.shape
    (3, 2)
    """
    folder = get_mulan_dir(data_dir)
    whole, train, test = (folder / f"{name}{part}.arff" for part in ("", "-train", "-test"))
    xml = folder / f"{name}.xml"
    split = train.is_file() and test.is_file()
    kwargs = {"xml": xml if xml.is_file() else None, "sparse": sparse}
    if subset == "all" and whole.is_file():
        data = load_mulan(whole, **kwargs)
    elif split and subset != "all":
        data = load_mulan(train if subset == "train" else test, **kwargs)
    elif split:
        data = _concatenate(load_mulan(train, **kwargs), load_mulan(test, **kwargs))
    else:
        looked_for = [whole.name] if subset == "all" else [train.name, test.name]
        available = "" if not whole.is_file() else f" ({whole.name} exists: use subset='all')"
        raise FileNotFoundError(
            f"MULAN benchmark {name!r} ({subset}) not found in {str(folder)!r}: looked for "
            f"{', '.join(looked_for)}{available}"
        )
    return (data.data, data.target) if return_X_y else data


def _concatenate(first: Bunch, second: Bunch) -> Bunch:
    stack = sp.vstack if sp.issparse(first.data) else np.vstack
    merged = Bunch(**first)
    merged.data = stack([first.data, second.data])
    if sp.issparse(merged.data):
        merged.data = merged.data.tocsr()
    merged.target = np.vstack([first.target, second.target])
    return merged
