"""Points on the unit sphere S^(d-1): the training data of neural polytopes.

Two kinds of point sets, both seeded and reproducible:

``"random"``
    Independent uniform points (normalised Gaussian vectors), as in the paper.
``"quasi"``
    Quasi-uniform points with low discrepancy, which integrate smooth functions over the
    sphere far more accurately than random points of the same number: equally spaced
    angles on the circle (d = 2), a Fibonacci lattice (d = 3), and for d > 3 a scrambled
    Halton sequence in [0, 1)^(d-1) carried to the sphere by hyperspherical coordinates
    with exact inverse CDFs (a measure-preserving map). Every quasi set is turned by a
    seeded random rotation, so different seeds give differently placed but equally good
    point sets.

numpy only (no scipy), so Blender's bundled Python can use it.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_choice, check_int
from ..errors import NeuralPolyError
from ..network.architecture import check_dim

__all__ = ["METHODS", "sphere_points", "random_rotation", "halton"]

METHODS = ("random", "quasi")

_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79,
           83, 89, 97, 101, 103, 107, 109, 113)


def random_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal (dim, dim) matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def halton(n: int, dim: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """The first ``n`` points of the ``dim``-dimensional Halton sequence in [0, 1)^dim.

    With ``rng``, each base's digits are scrambled by random permutations (one per base and
    digit position, applied to all digits down to float64 resolution), which removes the
    correlations between high prime bases and the point at the origin; without it, the plain
    sequence starting at index 1.

    Parameters
    ----------
    n : int
        Number of points.
    dim : int
        Dimension, at most ``len(_PRIMES)`` (30).
    rng : numpy.random.Generator, optional
        Source of the scrambling permutations.
    """
    n = check_int(n, "number of points n", 1)
    if dim > len(_PRIMES):
        raise NeuralPolyError(f"the Halton sequence here supports at most {len(_PRIMES)} dimensions, got {dim}")
    idx = np.arange(n, dtype=np.int64) + (0 if rng is not None else 1)
    out = np.empty((n, dim))
    for k in range(dim):
        b = _PRIMES[k]
        # enough digits to resolve float64 (b**-n_digits < 2**-53) and to index all n points
        n_digits = max(int(math.ceil(53 * math.log(2) / math.log(b))),
                       int(math.ceil(math.log(n + 1) / math.log(b))) + 1)
        rest = idx.copy()
        value = np.zeros(n)
        scale = 1.0 / b
        for _ in range(n_digits):
            digit = rest % b
            rest //= b
            if rng is not None:
                digit = rng.permutation(b)[digit]
            value += digit * scale
            scale /= b
        out[:, k] = value
    return np.minimum(out, np.nextafter(1.0, 0.0))


def _cos_power_integral(phi: np.ndarray, n: int) -> np.ndarray:
    """``integral_0^phi cos(t)**n dt`` by the reduction formula (n >= 0)."""
    if n == 0:
        return np.asarray(phi, dtype=np.float64)
    if n == 1:
        return np.sin(phi)
    return np.cos(phi) ** (n - 1) * np.sin(phi) / n + (n - 1) / n * _cos_power_integral(phi, n - 2)


def _latitude_from_uniform(u: np.ndarray, n: int) -> np.ndarray:
    """Angles phi in [-pi/2, pi/2] with density proportional to cos(phi)**n, from uniforms u.

    The inverse of the (closed-form) CDF: a tabulated first guess refined by Newton steps.
    """
    half = float(_cos_power_integral(np.float64(math.pi / 2), n))

    def cdf(phi):
        return (_cos_power_integral(phi, n) + half) / (2.0 * half)

    grid = np.linspace(-math.pi / 2, math.pi / 2, 4097)
    phi = np.interp(u, cdf(grid), grid)
    for _ in range(6):
        density = np.cos(phi) ** n / (2.0 * half)
        step = (cdf(phi) - u) / np.maximum(density, 1e-300)
        phi = np.clip(phi - np.clip(step, -0.05, 0.05), -math.pi / 2, math.pi / 2)
    return phi


def _sphere_from_cube(u: np.ndarray, dim: int) -> np.ndarray:
    """Map points of [0, 1)^(dim-1) to S^(dim-1), carrying the uniform measure to the uniform one.

    Hyperspherical coordinates: the first coordinate is the angle on the circle S^1; each
    further coordinate is the latitude of S^(k-1) above S^(k-2), whose density is
    proportional to cos(phi)**(k-2), mapped by its inverse CDF. The map is smooth away
    from the poles, so low-discrepancy input gives low-discrepancy points.
    """
    x = np.empty((u.shape[0], dim))
    angle = 2.0 * math.pi * u[:, 0]
    x[:, 0] = np.cos(angle)
    x[:, 1] = np.sin(angle)
    for k in range(3, dim + 1):
        phi = _latitude_from_uniform(u[:, k - 2], k - 2)
        x[:, :k - 1] *= np.cos(phi)[:, None]
        x[:, k - 1] = np.sin(phi)
    return x


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1)
    if np.any(norms == 0.0):  # probability zero; keep the guarantee anyway
        x = x.copy()
        x[norms == 0.0, 0] = 1.0
        norms = np.linalg.norm(x, axis=1)
    return x / norms[:, None]


def sphere_points(dim: int, n: int, method: str = "random", seed: int = 0) -> np.ndarray:
    """``n`` unit vectors in R^dim (points of S^(dim-1)), float64, shape (n, dim).

    Parameters
    ----------
    dim : int
        Ambient dimension d >= 2.
    n : int
        Number of points, >= 1.
    method : {'random', 'quasi'}
        ``'random'``: independent uniform points (normalised Gaussians, the paper's data).
        ``'quasi'``: quasi-uniform points (see the module docstring).
    seed : int
        Seed (>= 0); the same arguments always give the same points.

    Returns
    -------
    numpy.ndarray
        Shape (n, dim), each row of Euclidean norm 1.

    Raises
    ------
    NeuralPolyError
        For a bad dimension, count, method or seed.
    """
    dim = check_dim(dim)
    n = check_int(n, "number of points n", 1)
    seed = check_int(seed, "seed", 0)
    check_choice(method, METHODS, "sampling method")
    rng = np.random.default_rng(seed)
    if method == "random":
        return _normalise_rows(rng.standard_normal((n, dim)))
    if dim == 2:
        theta = rng.uniform(0.0, 2.0 * math.pi) + 2.0 * math.pi * np.arange(n) / n
        return np.stack([np.cos(theta), np.sin(theta)], axis=1)
    if dim == 3:
        i = np.arange(n)
        z = 1.0 - (2.0 * i + 1.0) / n
        r = np.sqrt(np.maximum(0.0, 1.0 - z * z))
        phi = _GOLDEN_ANGLE * i
        pts = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    else:
        if dim - 1 > len(_PRIMES):
            raise NeuralPolyError(
                f"quasi-uniform points support d <= {len(_PRIMES) + 1}; use method='random' for d = {dim}")
        pts = _sphere_from_cube(halton(n, dim - 1, rng), dim)
    rot = random_rotation(dim, rng)
    return _normalise_rows(pts @ rot.T)
