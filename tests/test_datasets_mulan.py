"""Tests of load_mulan: the shared MULAN files read to the recorded arrays, and ARFF edge cases.

The recorded checksums are those of the arrays the loader returned before it moved onto
liac-arff (a hand-written parser), so these tests pin the move to "same arrays, bit for bit".
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_mlabnc.datasets import get_mulan_dir, load_mulan, load_mulan_benchmark


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# load_mulan: shared benchmark files, against the arrays recorded from the previous parser
# ---------------------------------------------------------------------------------------------


class _Recorded(NamedTuple):
    X_shape: tuple[int, int]
    Y_shape: tuple[int, int]
    xml: str
    X_sha256: str  # of the C-ordered float64 bytes
    Y_sha256: str  # of the C-ordered int64 bytes
    feature_names_sha256: str  # of the names joined by newlines
    target_names_sha256: str
    X_sum: float
    Y_sum: int
    X_first: float
    X_last: float


_RECORDED = {
    "emotions-train": _Recorded(
        (391, 72), (391, 6), "emotions.xml",
        "0c66c1cc63125825f9383b9a65d22e73ffdf74ced36a5e209c3094564b77f10a",
        "60201249589fbf3ba02f864884a0319f5694300bf185caf0c4b59be8ce32f383",
        "ac88e35a845422fce31820a9d6c4a66e54547a5b05b5312e62d124b444d02e14",
        "3629542035eea6a50a43aaa6adc11025cfc3dbed3bcdf1b52156c52e1fa574f1",
        77550.03357, 709, 0.034741, 1.121553,
    ),
    "emotions-test": _Recorded(
        (202, 72), (202, 6), "emotions.xml",
        "2c6972e153639e03d769ed722b9454e31f403c44b1f8ea8af6f0540156810e56",
        "417e4a4d39e126a4323d89ca18694457c237125ff95b8d3e75ebe4b806d9d71c",
        "ac88e35a845422fce31820a9d6c4a66e54547a5b05b5312e62d124b444d02e14",
        "3629542035eea6a50a43aaa6adc11025cfc3dbed3bcdf1b52156c52e1fa574f1",
        41501.568601, 399, 0.036299, 0.451701,
    ),
    "yeast-train": _Recorded(
        (1500, 103), (1500, 14), "yeast.xml",
        "6ca7965d6bcc37b2b6f0d6060fbf1974c7e61c3fe2ded6b7598b8ded3a0d73bb",
        "870be750a9f79c3e7e7cf9777c4f0d553cb07527f0e74e67c929ad9ed675f604",
        "06cce4f0ea876d65575d4c670019a3b408b111e586c02b0748cd3ef0c3c6518f",
        "b99e24fb34073fbde69975bb1cc2a1df35782fc898eabfd5acd6c77035fdedc0",
        -3.1967840000000116, 6342, 0.0937, 0.01881,
    ),
    "yeast-test": _Recorded(
        (917, 103), (917, 14), "yeast.xml",
        "5041a8ad4861fbbc91355e81747ca5b826037fba462e0b6ee788536bb663e8a4",
        "0804d6c0076bd330e98d3e7f86d5b2ad91b89685d3f8dc6488a1f4a8756ea733",
        "06cce4f0ea876d65575d4c670019a3b408b111e586c02b0748cd3ef0c3c6518f",
        "b99e24fb34073fbde69975bb1cc2a1df35782fc898eabfd5acd6c77035fdedc0",
        18.569867000000002, 3899, 0.004168, -0.146233,
    ),
    "CAL500": _Recorded(
        (502, 68), (502, 174), "CAL500.xml",
        "85ac674a3518993f0227d5d26c715a6ce45067548c99b297a1bb1dfdfb0aa9e1",
        "8a9ddaeec8a60a66bd952c71fca46d0f0303d811852c68a048ed5cec95f55ef5",
        "b3a1654fe0de178138ae149f60846f2743bcd73290971729337c94f4899f1505",
        "25f52fb0ad3f498055abfd38fa839af655af270a09440d389a7ff3be78cf1530",
        -17512.686426, 13074, 0.08254, 0.171373,
    ),
}  # fmt: skip


@pytest.mark.parametrize("stem", sorted(_RECORDED))
def test_load_mulan_shared_files_give_the_recorded_arrays(stem, mulan_dir):
    rec = _RECORDED[stem]
    data = load_mulan(mulan_dir / f"{stem}.arff")
    X, Y = data.data, data.target
    assert X.shape == rec.X_shape and X.dtype == np.float64 and X.flags.c_contiguous
    assert Y.shape == rec.Y_shape and Y.dtype == np.int64 and Y.flags.c_contiguous
    assert Path(data.xml_filename).name == rec.xml
    # readable first, so a mismatch says where; then bit for bit
    np.testing.assert_allclose([X.sum(), X[0, 0], X[-1, -1]], [rec.X_sum, rec.X_first, rec.X_last])
    assert int(Y.sum()) == rec.Y_sum
    assert _sha(X.tobytes()) == rec.X_sha256
    assert _sha(Y.tobytes()) == rec.Y_sha256
    assert _sha("\n".join(data.feature_names).encode()) == rec.feature_names_sha256
    assert _sha("\n".join(data.target_names).encode()) == rec.target_names_sha256
    Xs = load_mulan(mulan_dir / f"{stem}.arff", sparse=True).data
    assert sp.issparse(Xs) and Xs.format == "csr"
    np.testing.assert_array_equal(Xs.toarray(), X)


def _to_sparse_arff(dense: Path, sparse: Path) -> None:
    """Rewrite a dense ARFF file with sparse rows (zeros omitted), independently of the loader."""
    lines = dense.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data")
    rows = []
    for line in lines[start + 1 :]:
        if line.strip():
            values = line.split(",")
            rows.append(
                "{" + ", ".join(f"{j} {v}" for j, v in enumerate(values) if float(v)) + "}"
            )
    sparse.write_text("\n".join(lines[: start + 1] + rows) + "\n")


def test_load_mulan_sparse_rewrite_of_a_shared_file_gives_the_same_arrays(tmp_path, mulan_dir):
    directory = mulan_dir
    _to_sparse_arff(directory / "emotions-test.arff", tmp_path / "emotions-test.arff")
    assert (tmp_path / "emotions-test.arff").read_text().count("{") > 200
    dense = load_mulan(directory / "emotions-test.arff")
    sparse = load_mulan(tmp_path / "emotions-test.arff", directory / "emotions.xml")
    np.testing.assert_array_equal(sparse.data, dense.data)
    np.testing.assert_array_equal(sparse.target, dense.target)
    assert sparse.feature_names == dense.feature_names
    assert sparse.target_names == dense.target_names


@pytest.mark.parametrize(
    ("name", "stem", "n_samples", "n_features", "n_labels"),
    [
        ("emotions", "emotions-train", 391, 72, 6),
        ("emotions", "emotions-test", 202, 72, 6),
        ("yeast", "yeast-train", 1500, 103, 14),
        ("yeast", "yeast-test", 917, 103, 14),
        ("CAL500", "CAL500", 502, 68, 174),
    ],
)
def test_load_mulan_shared(name, stem, n_samples, n_features, n_labels, mulan_dir):
    directory = mulan_dir
    path = directory / f"{stem}.arff"
    data = load_mulan(path)
    assert data.data.shape == (n_samples, n_features)
    assert data.data.dtype == np.float64
    assert data.target.shape == (n_samples, n_labels)
    assert data.target.dtype == np.int64
    assert set(np.unique(data.target)) == {0, 1}
    assert np.isfinite(data.data).all()
    xml_names = [
        el.attrib["name"]
        for el in ET.parse(directory / f"{name}.xml").getroot().iter()
        if el.tag.endswith("label")
    ]
    assert set(data.target_names) == set(xml_names)
    assert Path(data.xml_filename) == directory / f"{name}.xml"
    by_xml = load_mulan(path, directory / f"{name}.xml", label_order="xml")
    assert by_xml.target_names == xml_names
    order = [data.target_names.index(n) for n in xml_names]
    np.testing.assert_array_equal(by_xml.target, data.target[:, order])

    # independent parse: the files are dense with the labels as the last columns
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data")
    raw = np.loadtxt(lines[start + 1 :], delimiter=",")
    np.testing.assert_allclose(data.data, raw[:, :n_features])
    np.testing.assert_array_equal(data.target, raw[:, n_features:].astype(int))


def test_load_mulan_shared_return_X_y_and_frame(mulan_dir):
    directory = mulan_dir
    X, Y = load_mulan(directory / "emotions-test.arff", return_X_y=True)
    assert X.shape == (202, 72) and Y.shape == (202, 6)
    pd = pytest.importorskip("pandas")
    frame = load_mulan(directory / "emotions-test.arff", as_frame=True)
    assert isinstance(frame.data, pd.DataFrame)
    assert list(frame.target.columns) == frame.target_names
    assert frame.frame.shape == (202, 78)
    Xs = load_mulan(directory / "emotions-test.arff", sparse=True).data
    assert sp.issparse(Xs)
    np.testing.assert_allclose(Xs.toarray(), X)


# ---------------------------------------------------------------------------------------------
# load_mulan: hand-written files
# ---------------------------------------------------------------------------------------------

_XML = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<labels xmlns="http://mulan.sourceforge.net/labels">\n'
    '<label name="beta"></label>\n<label name="alpha label"></label>\n</labels>\n'
)

_HEADER = """% a comment
@RELATION 'toy data'

@attribute 'first feature' numeric
@attribute beta {0,1}
@ATTRIBUTE f2 REAL
% another comment
@attribute "alpha label" {0, 1}
@attribute colour {red,'dark blue',green}
@attribute f3 integer
@data
"""

_DENSE_ROWS = """1.5,1,-2,0,red,3,{0.5}
% comment inside data
0,0,0,1,'dark blue',0

?,1,4e-1,1,green,7
"""

_SPARSE_ROWS = """{0 1.5, 1 1, 2 -2, 5 3}
{ 3 1 , 4 'dark blue' }, {2.5}
{0 ?, 1 1, 2 4e-1, 3 1, 4 green, 5 7}
"""


def _write(directory: Path, name: str, rows: str, xml: str = _XML, header: str = _HEADER):
    (directory / "toy.xml").write_text(xml)
    path = directory / name
    path.write_text(header + rows)
    return path


@pytest.mark.parametrize("rows", [_DENSE_ROWS, _SPARSE_ROWS], ids=["dense", "sparse"])
def test_load_mulan_dense_and_sparse_rows(tmp_path, rows):
    data = load_mulan(_write(tmp_path, "toy-test.arff", rows))
    assert data.feature_names == ["first feature", "f2", "colour", "f3"]
    assert data.target_names == ["beta", "alpha label"]  # ARFF order
    expected = np.array([[1.5, -2, 0, 3], [0, 0, 1, 0], [np.nan, 0.4, 2, 7]])
    np.testing.assert_array_equal(data.data, expected)
    np.testing.assert_array_equal(data.target, [[1, 0], [0, 1], [1, 1]])
    by_xml = load_mulan(tmp_path / "toy-test.arff", label_order="xml")
    assert by_xml.target_names == ["beta", "alpha label"]


def test_load_mulan_sparse_output_and_label_order(tmp_path):
    xml = (
        _XML.replace('"beta"', '"tmp"')
        .replace('"alpha label"', '"beta"')
        .replace('"tmp"', '"alpha label"')
    )
    path = _write(tmp_path, "toy.arff", _SPARSE_ROWS, xml=xml)
    data = load_mulan(path, sparse=True)
    assert sp.issparse(data.data) and data.data.format == "csr"
    assert data.target_names == ["beta", "alpha label"]
    xml_order = load_mulan(path, label_order="xml")
    assert xml_order.target_names == ["alpha label", "beta"]
    np.testing.assert_array_equal(xml_order.target, data.target[:, ::-1])
    np.testing.assert_array_equal(data.data.toarray(), xml_order.data)


def test_load_mulan_explicit_xml_and_reversed_nominal_labels(tmp_path):
    header = _HEADER.replace("@attribute beta {0,1}", "@attribute beta {1,0}")
    path = _write(
        tmp_path, "weird-name.arff", "{3 1, 4 'dark blue'}\n1,0,0,0,red,0\n", header=header
    )
    with pytest.raises(FileNotFoundError, match="XML"):
        load_mulan(path)
    data = load_mulan(path, tmp_path / "toy.xml")
    # sparse omitted nominal value = first declared value ('1'); dense '0' -> 0
    np.testing.assert_array_equal(data.target, [[1, 1], [0, 0]])


_MALFORMED = [
    (_HEADER, "1.5,1,-2,0,red\n", r"toy\.arff: Bad @DATA instance format in line 12"),
    (_HEADER, "1.5,1,abc,0,red,3\n", r"toy\.arff: Invalid numerical value, at line 12"),
    (_HEADER, "1.5,1,-2,0,purple,3\n", r"value purple not found in nominal .* line 12"),
    (_HEADER, "{0 1.5, 9 1}\n", r"Bad @DATA instance format in line 12: \{0 1\.5, 9 1\}"),
    (_HEADER, "{0 1.5, 1 1\n", r"Invalid layout .* line 12\. Error parsing '\{0 1\.5, 1 1'"),
    (_HEADER, "{x 1.5}\n", r"Invalid layout .* line 12\. Error parsing '\{x 1\.5\}'"),
    (_HEADER, "{0 1.5} junk\n", r"Invalid layout .* line 12\. Error parsing '\{0 1\.5\} junk'"),
    (_HEADER, "1.5,1,-2,0,'red,3\n", r"Invalid layout .* line 12\. Error parsing"),
    (_HEADER, "1.5,?,-2,0,red,3\n", r"label attribute 'beta' has missing values"),
    (_HEADER.replace("@data\n", ""), "", r"Invalid layout of the ARFF file"),
    (_HEADER.replace("f3 integer", "f3 blob"), "", r"Bad @ATTRIBUTE type, at line 10"),
    (_HEADER.replace("f3 integer", "f2 numeric"), "", r"name f2 at line 10, .* in use in line 6"),
    (_HEADER.replace("f3 integer", "f3"), "", r"Bad @ATTRIBUTE format, at line 10"),
    (_HEADER.replace("{red,'dark blue',green}", "{red"), "", r"Bad @ATTRIBUTE type, at line 9"),
    (
        _HEADER.replace("f3 integer", "f3 string"),
        "",
        r"string attributes \['f3'\] cannot be stored .* as_frame=True",
    ),
    (
        _HEADER.replace("@attribute beta {0,1}", "@attribute beta {a,b}"),
        "",
        r"label attribute 'beta' must have values",
    ),
    (
        _HEADER.replace("@attribute beta {0,1}", "@attribute beta numeric"),
        "1.5,2,-2,0,red,3\n",
        r"label attribute 'beta' has values other than 0/1",
    ),
    (
        _HEADER.replace("@attribute beta {0,1}", "@attribute beta string"),
        "1.5,1,-2,0,red,3\n",
        r"label attribute 'beta' is a string attribute",
    ),
    (
        _HEADER.replace("@attribute beta {0,1}", "@attribute gamma {0,1}"),
        "",
        r"labels \['beta'\] are not attributes",
    ),
    ("@relation x\nnonsense here\n", "", r"Invalid layout of the ARFF file, at line 2"),
    (_HEADER, "@attribute late numeric\n", r"Invalid layout .* line 12\. Error parsing '@attr"),
]


@pytest.mark.parametrize(("header", "rows", "match"), _MALFORMED, ids=[m for *_, m in _MALFORMED])
def test_load_mulan_malformed(tmp_path, header, rows, match):
    path = _write(tmp_path, "toy.arff", rows, header=header)
    with pytest.raises(ValueError, match=match):
        load_mulan(path)


def test_load_mulan_missing_files_and_bad_xml(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.arff"):
        load_mulan(tmp_path / "nope.arff")
    path = _write(tmp_path, "toy.arff", _DENSE_ROWS)
    with pytest.raises(FileNotFoundError, match="other.xml"):
        load_mulan(path, tmp_path / "other.xml")
    (tmp_path / "bad.xml").write_text("<labels><label name='beta'></labels>")
    with pytest.raises(ValueError, match=r"bad\.xml: malformed XML"):
        load_mulan(path, tmp_path / "bad.xml")
    (tmp_path / "empty.xml").write_text("<labels></labels>")
    with pytest.raises(ValueError, match="no <label"):
        load_mulan(path, tmp_path / "empty.xml")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"as_frame": True, "sparse": True}, "as_frame=True cannot be combined"),
        ({"label_order": "alphabetical"}, "'label_order' parameter .* 'alphabetical'"),
        ({"sparse": "yes"}, "'sparse' parameter"),
        ({"xml": 3}, "'xml' parameter"),
    ],
)
def test_load_mulan_bad_arguments(tmp_path, kwargs, match):
    path = _write(tmp_path, "toy.arff", _DENSE_ROWS)
    with pytest.raises(ValueError, match=match):
        load_mulan(path, **kwargs)
    with pytest.raises(ValueError, match="'path' parameter"):
        load_mulan(None)


# ---------------------------------------------------------------------------------------------
# load_mulan: sparse ARFF and string attributes
# ---------------------------------------------------------------------------------------------

_SPARSE_XML = (
    '<labels xmlns="http://mulan.sourceforge.net/labels">'
    '<label name="l0"></label><label name="l1"></label><label name="l2"></label></labels>'
)

# Labels first (as in several MULAN sparse files), a nominal feature, a missing value, an
# explicit zero, a row with no stored value and a trailing all-zero row.
_SPARSE_ARFF = """@relation 'sparse toy'
@attribute l0 {0,1}
@attribute l1 {0,1}
@attribute l2 {0,1}
@attribute 'word count' numeric
@attribute shade {light,dark}
@attribute w2 real
@attribute w3 integer
@data
{0 1, 3 2.5, 6 7}
{1 1, 2 1, 4 dark, 5 ?}
{}
{0 1, 3 0, 5 -1e-2}
{}
"""


def test_load_mulan_sparse_arff(tmp_path):
    (tmp_path / "toy.xml").write_text(_SPARSE_XML)
    (tmp_path / "toy.arff").write_text(_SPARSE_ARFF)
    data = load_mulan(tmp_path / "toy.arff")
    assert data.feature_names == ["word count", "shade", "w2", "w3"]
    assert data.target_names == ["l0", "l1", "l2"]
    expected = np.array(
        [
            [2.5, 0, 0, 7],
            [0, 1, np.nan, 0],
            [0, 0, 0, 0],
            [0, 0, -0.01, 0],
            [0, 0, 0, 0],
        ]
    )
    np.testing.assert_array_equal(data.data, expected)
    np.testing.assert_array_equal(
        data.target, [[1, 0, 0], [0, 1, 1], [0, 0, 0], [1, 0, 0], [0, 0, 0]]
    )
    csr = load_mulan(tmp_path / "toy.arff", sparse=True).data
    assert csr.shape == (5, 4)
    np.testing.assert_array_equal(csr.toarray(), expected)
    # only the non-zero values are stored: 2.5, 7, 'dark', the missing value and -0.01
    assert csr.nnz == 5


def test_load_mulan_string_attributes_need_a_frame(tmp_path):
    pd = pytest.importorskip("pandas")
    (tmp_path / "toy.xml").write_text(_SPARSE_XML.replace('<label name="l2"></label>', ""))
    (tmp_path / "toy.arff").write_text(
        "@relation s\n@attribute title string\n@attribute x numeric\n"
        "@attribute l0 {0,1}\n@attribute l1 {0,1}\n"
        "@data\n'a song',1.5,1,0\n'another, with comma',?,0,1\n"
    )
    with pytest.raises(ValueError, match=r"string attributes \['title'\].*as_frame=True"):
        load_mulan(tmp_path / "toy.arff")
    data = load_mulan(tmp_path / "toy.arff", as_frame=True)
    assert isinstance(data.data, pd.DataFrame)
    assert data.data["title"].tolist() == ["a song", "another, with comma"]
    assert data.data["x"].dtype == np.float64
    np.testing.assert_array_equal(data.data["x"].to_numpy(), [1.5, np.nan])
    assert data.target.to_numpy().tolist() == [[1, 0], [0, 1]]
    assert list(data.frame.columns) == ["title", "x", "l0", "l1"]


def test_load_mulan_uses_liac_arff():
    import sklearn_mlabnc.datasets._mulan as mulan

    source = Path(mulan.__file__).read_text()
    assert "import arff" in source
    assert not hasattr(mulan, "_parse_arff")  # the hand-written parser is gone


# ---------------------------------------------------------------------------------------------
# load_mulan_benchmark / get_mulan_dir: benchmarks by name from data_dir or MLABNC_DATA_DIR
# ---------------------------------------------------------------------------------------------
def test_load_mulan_benchmark_reads_the_splits_by_name(mulan_dir, monkeypatch):
    monkeypatch.setenv("MLABNC_DATA_DIR", str(mulan_dir))
    train = load_mulan_benchmark("emotions")  # the folder from the environment
    test = load_mulan_benchmark("emotions", "test", data_dir=mulan_dir)
    assert train.data.shape == (391, 72) and test.target.shape == (202, 6)
    np.testing.assert_array_equal(train.data, load_mulan(mulan_dir / "emotions-train.arff").data)
    X, Y = load_mulan_benchmark("emotions", "all", data_dir=mulan_dir, return_X_y=True)
    np.testing.assert_array_equal(X, np.vstack([train.data, test.data]))
    np.testing.assert_array_equal(Y, np.vstack([train.target, test.target]))
    X, Y = load_mulan_benchmark("CAL500", "all", return_X_y=True)
    assert X.shape == (502, 68) and Y.shape == (502, 174)
    with pytest.raises(FileNotFoundError, match=r"CAL500.*subset='all'"):
        load_mulan_benchmark("CAL500", "train")
    Xs = load_mulan_benchmark("enron", "all", sparse=True).data
    assert sp.issparse(Xs) and Xs.format == "csr" and Xs.shape == (1702, 1001)


def test_load_mulan_benchmark_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("MLABNC_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="set the environment variable MLABNC_DATA_DIR"):
        load_mulan_benchmark("emotions")
    monkeypatch.setenv("MLABNC_DATA_DIR", "")
    with pytest.raises(FileNotFoundError, match="MLABNC_DATA_DIR"):
        get_mulan_dir()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mulan_benchmark("emotions", data_dir=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"looked for yeast-train.arff, yeast-test.arff"):
        load_mulan_benchmark("yeast", data_dir=tmp_path)
    assert get_mulan_dir(tmp_path) == tmp_path
