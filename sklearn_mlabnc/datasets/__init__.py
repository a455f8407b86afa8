"""Datasets for multi-label neural-collapse experiments.

- :func:`make_multilabel_digits`: the paper's multi-label MNIST construction on scikit-learn's
  embedded 8x8 digits (no network access).
- :func:`make_tagwise_blobs`: Gaussian features whose label-set means follow (or violate) the
  MLab NC tag-wise average ``mu_S = c_m * mean_{k in S} mu_k`` around a simplex ETF.
- :func:`load_mulan`: a MULAN reader (the ARFF file, dense or sparse, parsed by ``liac-arff``,
  and the XML file naming the labels).
- :func:`load_mulan_benchmark`: a MULAN benchmark's standard split by name, from the folder
  that ``data_dir`` or the ``MLABNC_DATA_DIR`` environment variable names
  (:func:`get_mulan_dir`).

This subpackage imports nothing else from ``sklearn_mlabnc``.
"""

from ._benchmarks import get_mulan_dir, load_mulan_benchmark
from ._blobs import make_tagwise_blobs
from ._digits import make_multilabel_digits
from ._mulan import load_mulan

__all__ = [
    "get_mulan_dir",
    "load_mulan",
    "load_mulan_benchmark",
    "make_multilabel_digits",
    "make_tagwise_blobs",
]
