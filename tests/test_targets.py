import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning

from sklearn_mlabnc._targets import TargetEncoder


@pytest.mark.parametrize(
    "convert",
    [np.asarray, lambda y: y.tolist(), sp.csr_matrix, pd.DataFrame, lambda y: y.astype(bool)],
)
def test_multilabel_representations_give_the_same_indicator(convert):
    Y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 1]])
    enc = TargetEncoder()
    indicator = enc.fit_transform(convert(Y))
    np.testing.assert_array_equal(indicator, Y)
    assert enc.kind_ == "multilabel" and indicator.dtype == np.float32
    np.testing.assert_array_equal(enc.inverse_transform(indicator > 0), Y)


def test_class_labels_round_trip():
    enc = TargetEncoder()
    indicator = enc.fit_transform(np.array(["b", "a", "c", "a"]))
    np.testing.assert_array_equal(indicator.argmax(axis=1), [1, 0, 2, 0])
    np.testing.assert_array_equal(enc.inverse_transform(indicator), ["b", "a", "c", "a"])
    with pytest.raises(ValueError, match=r"not seen during the first fit: \['z'\]"):
        enc.transform(["z"])


def test_column_vector_is_raveled_with_a_warning():
    with pytest.warns(DataConversionWarning, match="column-vector"):
        TargetEncoder().fit_transform(np.array([[0], [1], [2]]))


@pytest.mark.parametrize(
    "y, match",
    [
        (np.array([[0, 2], [1, 0]]), "values 0 and 1 only"),
        (np.array([0.5, 1.5, 2.5]), "Unknown label type"),
        (np.array([1, 1, 1]), "1 class"),
        (np.array([["a", "b"], ["c", "d"]]), "numeric 0/1 indicator"),
    ],
)
def test_bad_targets(y, match):
    with pytest.raises(ValueError, match=match):
        TargetEncoder().fit_transform(y)


@pytest.mark.parametrize(
    "y", [np.array([[1, 0, 1], [0, 1, 0]]), np.array(["b", "a", "c"]), np.array([3, 1, 3])]
)
def test_encoder_dict_round_trip_through_json(y):
    enc = TargetEncoder()
    indicator = enc.fit_transform(y)
    restored = TargetEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    assert restored.kind_ == enc.kind_ and restored.n_labels_ == enc.n_labels_
    np.testing.assert_array_equal(restored.transform(y), indicator)
    np.testing.assert_array_equal(
        restored.inverse_transform(indicator), enc.inverse_transform(indicator)
    )


def test_classes_fix_the_label_space_of_1d_targets():
    enc = TargetEncoder()
    indicator = enc.fit_transform(np.array(["b", "b"]), classes=["a", "b", "c"])
    np.testing.assert_array_equal(indicator, [[0, 1, 0], [0, 1, 0]])
    assert enc.classes_.tolist() == ["a", "b", "c"]
