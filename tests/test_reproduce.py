"""The reproduction's records (sklearn_mlabnc/_reproduce.py): UFM comparisons and warnings."""

from __future__ import annotations

import warnings

import numpy as np

from sklearn_mlabnc._reproduce import _messages, ufm_prediction
from sklearn_mlabnc.ufm import reduced_problem

DECAYS = {"weight_decay": 5e-3, "feature_decay": 0.03}


def _digits_like_labels():
    eye = np.eye(4, dtype=int)
    pairs = [eye[i] + eye[j] for i in range(4) for j in range(i + 1, 4)]
    return np.array([*eye.tolist() * 5, *[p.tolist() for p in pairs] * 2])


def test_each_head_is_compared_with_its_own_ufm_problem():
    Y = _digits_like_labels()
    learned, learned_problem = ufm_prediction(Y, {"loss": "pal", "head": "linear", **DECAYS})
    fixed, fixed_problem = ufm_prediction(Y, {"loss": "pal", "head": "etf", **DECAYS})
    expected = {
        head: reduced_problem({1: 5, 2: 2}, 4, fixed_classifier=head, **DECAYS).c_m[2]
        for head in (None, "etf")
    }
    assert learned[2] == expected[None] and fixed[2] == expected["etf"]
    assert "W learned" in learned_problem and "W fixed to the unit ETF" in fixed_problem


def test_no_ufm_when_c_m_is_undefined_or_there_is_no_feature_penalty():
    Y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 1, 1], [1, 0, 1]])  # label 2 never alone
    assert ufm_prediction(Y, {"loss": "pal", "head": "linear", **DECAYS}) == ({}, "")
    Y = _digits_like_labels()
    no_penalty = {"loss": "pal", "head": "linear", "weight_decay": 5e-3, "feature_decay": 0.0}
    assert ufm_prediction(Y, no_penalty) == ({}, "")


def test_repeated_conditioning_warnings_are_kept_once_with_the_last_figures():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for message, category in [
            ("NC1 is ill-conditioned (x): 60% of its value", RuntimeWarning),
            ("features died", UserWarning),
            ("NC1 is ill-conditioned (x): 99% of its value", RuntimeWarning),
            ("features died", UserWarning),
        ]:
            warnings.warn(message, category, stacklevel=1)
    assert _messages(caught) == [
        "RuntimeWarning: NC1 is ill-conditioned (x): 99% of its value",
        "UserWarning: features died",
    ]
