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
