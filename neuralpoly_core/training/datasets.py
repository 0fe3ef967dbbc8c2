"""Datasets that ship inside packages (offline): scikit-learn's 8x8 digits, split reproducibly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_float, check_int
from ..errors import NeuralPolyError

__all__ = ["Dataset", "load_digits_split"]


@dataclass(frozen=True)
class Dataset:
    """Samples and labels, split into training and validation parts.

    Attributes
    ----------
    x_train, x_val : (n, d) float64
        Inputs (for digits: the 64 pixel intensities scaled to [0, 1]).
    y_train, y_val : (n,) int64
        Labels ``0 .. n_classes - 1``.
    n_classes : int
    name : str
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    name: str

    @property
    def dim(self) -> int:
        return self.x_train.shape[1]


def load_digits_split(val_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's digits (1,797 samples of 8x8 pixels, 10 classes), scaled to [0, 1].

    Parameters
    ----------
    val_fraction : float
        Fraction of the samples held out for validation, stratified by label.
    seed : int
        Seed of the split.

    Raises
    ------
    NeuralPolyError
        If scikit-learn is not installed, or the arguments are out of range.
    """
    val_fraction = check_float(val_fraction, "val_fraction", 0.0, 1.0, lo_open=True, hi_open=True)
    seed = check_int(seed, "seed", 0)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise NeuralPolyError("the digits dataset needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        val[idx[:int(round(val_fraction * len(idx)))]] = True
    return Dataset(x[~val], y[~val], x[val], y[val], 10, "digits")
