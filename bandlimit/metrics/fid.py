r"""Fréchet Inception Distance (FID; Heusel et al., 2017, "GANs trained by a two time-scale update
rule converge to a local Nash equilibrium").

Real and generated images are mapped to feature vectors by a fixed network (classically the
2048-D pool3 layer of Inception-v3); each set of features is summarised by its mean ``μ`` and
covariance ``Σ``, and FID is the Fréchet (2-Wasserstein) distance between the two Gaussians::

    FID = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2})

Lower is better; identical statistics give 0.

FID values depend on the feature extractor and are comparable only between runs that used the
same one, the same preprocessing and the same numbers of images: torchvision's Inception-v3
(:func:`inception_features`) is not the TensorFlow Inception graph whose FIDs the papers report,
so its values differ from the published ones. FID is also biased upwards with few samples (the
papers use 50 000 generated images): compare values measured with equal sample counts.

Pieces:

- :class:`FeatureStatistics` — streaming float64 mean and covariance of ``[N, D]`` features,
  mergeable across batches and ranks (:meth:`~FeatureStatistics.merge`,
  :meth:`~FeatureStatistics.all_reduce`) and cacheable as ``.npz``
  (:meth:`~FeatureStatistics.save`, :meth:`~FeatureStatistics.load`);
- :func:`frechet_distance` — the distance between two sets of statistics, without scipy;
- feature extractors: any callable mapping images ``[N, 3, H, W]`` (float in ``[−1, 1]``, the
  generator convention) to features ``[N, D]``; :func:`inception_features` builds torchvision's
  Inception-v3 pool3 extractor, :func:`load_feature_extractor` loads a TorchScript or
  ``torch.export`` file (or ``'torchvision'``);
- :func:`feature_statistics` (the statistics of image batches, e.g. a dataset's, computed once
  and saved) and :func:`fid` (generate, extract, compare).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bandlimit._checks import check_bool, check_device, check_int, short_repr
from bandlimit.metrics._distributed import batch_seed, dist_info, raise_on_every_rank, reduce_device
from bandlimit.metrics.equivariance import NonFiniteImagesError

__all__ = [
    "INCEPTION_DIM",
    "INCEPTION_SIZE",
    "FeatureStatistics",
    "feature_statistics",
    "fid",
    "frechet_distance",
    "inception_features",
    "load_feature_extractor",
]

#: Side of the square images torchvision's Inception-v3 takes (:func:`inception_features`
#: resizes to it).
INCEPTION_SIZE = 299
#: Dimension of Inception-v3's pool3 features.
INCEPTION_DIM = 2048
# What npz files written by FeatureStatistics.save say they are (checked by load).
_FORMAT = "bandlimit.metrics.fid.FeatureStatistics/1"
# ImageNet normalisation of torchvision's classification weights.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_EPS = float(np.finfo(np.float64).eps)


# ---------------------------------------------------------------------------------------------
# torch.distributed helpers


def _raise_on_every_rank(error: Exception | None) -> None:
    raise_on_every_rank(error, NonFiniteImagesError, "FID is undefined",
                        "the FID computation failed")


# ---------------------------------------------------------------------------------------------
# Streaming statistics


def _from_numpy(a: np.ndarray) -> torch.Tensor:
    # torch takes any view but one with a negative stride (a[::-1]), even of a single element
    return torch.from_numpy(a.copy() if any(st < 0 for st in a.strides) else a)


def _as_features(features: Any, name: str) -> torch.Tensor:
    """``features`` (a tensor or array ``[N, D]`` of real numbers) as a tensor, checked."""
    if isinstance(features, np.ndarray):
        if features.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got a numpy array of "
                            f"{features.dtype}")
        features = _from_numpy(features)
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array [N, D], got "
                        f"{type(features).__name__}")
    if features.dtype == torch.bool or features.is_complex():
        raise TypeError(f"{name} must hold real numbers, got {features.dtype}")
    if features.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D] (2 dimensions), got "
                         f"{tuple(features.shape)}")
    if features.shape[1] < 1:
        raise ValueError(f"{name} must have at least one feature per sample, got shape "
                         f"{tuple(features.shape)}")
    if features.is_floating_point():
        bad = int((~torch.isfinite(features)).sum())
        if bad:
            raise ValueError(f"{name} has {bad} non-finite value{'s' if bad != 1 else ''} (NaN "
                             f"or inf): the statistics would be undefined")
    return features


class FeatureStatistics:
    r"""Streaming mean and covariance of feature vectors, in float64.

    Keeps the count ``n``, the mean ``μ`` and the centred sum of outer products
    ``M₂ = Σᵢ (xᵢ − μ)(xᵢ − μ)ᵀ``. Each :meth:`update` computes its batch's mean and centred
    ``M₂`` and folds them in with Chan et al.'s pairwise rule (also used by :meth:`merge`)::

        n = n_a + n_b,   δ = μ_b − μ_a,   μ = μ_a + δ·n_b/n,
        M₂ = M₂_a + M₂_b + δ δᵀ · n_a n_b / n

    which, unlike accumulating ``Σ xxᵀ`` and subtracting ``n μμᵀ`` at the end, does not lose
    the covariance to cancellation when the mean is large against the spread.

    Parameters
    ----------
    dim : int ≥ 1 or None
        Feature dimension ``D``; None (default): set by the first :meth:`update` or
        :meth:`merge`.
    device : torch.device, str or None
        Where the float64 accumulators live; None (default): the device of the first
        features given. Batches on another device are moved here.
    metadata : mapping of str to str, optional
        Free-form description (e.g. which extractor and dataset produced the features),
        written by :meth:`save` and restored by :meth:`load`; :attr:`metadata` holds a copy.

    Attributes
    ----------
    count : int
        Number of feature vectors seen.
    dim : int or None
        ``D``, None until known.
    metadata : dict
        The description, ``str`` keys to ``str`` values.

    Examples
    --------
    >>> import numpy as np
    >>> from bandlimit.metrics.fid import FeatureStatistics
    >>> x = np.random.default_rng(0).normal(size=(100, 3))
    >>> stats = FeatureStatistics().update(x[:30]).update(x[30:])
    >>> stats.count, stats.dim
    (100, 3)
    >>> np.allclose(stats.mean, x.mean(0)), np.allclose(stats.covariance, np.cov(x.T))
    (True, True)
    """

    def __init__(
        self,
        dim: int | None = None,
        *,
        device: torch.device | str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.dim: int | None = None if dim is None else check_int("dim", dim, 1)
        self._device = None if device is None else check_device("device", device)
        self.metadata: dict[str, str] = _check_metadata(metadata)
        self.count = 0
        self._mean: torch.Tensor | None = None  # float64 [D]
        self._m2: torch.Tensor | None = None  # float64 [D, D]

    def __repr__(self) -> str:
        return f"FeatureStatistics(count={self.count}, dim={self.dim})"

    @property
    def device(self) -> torch.device | None:
        """Where the accumulators live (None before any data when no ``device`` was given)."""
        return self._device

    def _fold(self, n: int, mean: torch.Tensor, m2: torch.Tensor) -> None:
        """Chan et al.'s merge of ``(n, mean, m2)`` (float64, on this object's device)."""
        if n == 0:
            return
        if self.count == 0 or self._mean is None or self._m2 is None:
            self.count, self._mean, self._m2 = n, mean.clone(), m2.clone()
            return
        total = self.count + n
        delta = mean - self._mean
        self._mean = self._mean + delta * (n / total)
        self._m2 = self._m2 + m2 + torch.outer(delta, delta) * (self.count * n / total)
        self.count = total

    def _require_dim(self, action: str) -> int:
        if self.dim is None:
            raise ValueError(f"these statistics have no dimension yet (no data and no dim): "
                             f"nothing to {action}")
        return self.dim

    def _set_dim(self, dim: int, what: str) -> None:
        if self.dim is None:
            self.dim = dim
        elif dim != self.dim:
            raise ValueError(f"{what} has {dim} features per sample but these statistics have "
                             f"{self.dim} (another feature extractor?)")

    def update(self, features: torch.Tensor | np.ndarray) -> FeatureStatistics:
        """Add a batch of feature vectors; returns ``self``.

        Parameters
        ----------
        features : torch.Tensor or numpy.ndarray ``[N, D]``
            Real numbers, finite, any dtype and device (converted to float64 here, on
            :attr:`device`). ``N = 0`` adds nothing (but ``D`` is still checked).

        Raises
        ------
        TypeError
            ``features`` is not a tensor or array of real numbers.
        ValueError
            ``features`` is not 2-D, its ``D`` differs from :attr:`dim`, or it holds NaN or
            inf.
        """
        x = _as_features(features, "features")
        self._set_dim(int(x.shape[1]), "features")
        if self._device is None:
            self._device = x.device
        n = int(x.shape[0])
        if n == 0:
            return self
        x = x.to(device=self._device, dtype=torch.float64)
        mean = x.mean(0)
        xc = x - mean
        self._fold(n, mean, xc.T @ xc)
        return self

    def merge(self, other: FeatureStatistics) -> FeatureStatistics:
        """Fold ``other``'s samples into these statistics (``other`` is unchanged); returns
        ``self``. The result equals the statistics of both sets of samples together, to float64
        rounding, whatever the order of merges.

        Raises
        ------
        TypeError
            ``other`` is not a :class:`FeatureStatistics`.
        ValueError
            The dimensions differ.
        """
        if not isinstance(other, FeatureStatistics):
            raise TypeError(f"other must be a FeatureStatistics, got {type(other).__name__}")
        if other.dim is not None:
            self._set_dim(other.dim, "other")
        if other.count == 0 or other._mean is None or other._m2 is None:
            return self
        if self._device is None:
            self._device = other._device
        self._fold(other.count, other._mean.to(self._device), other._m2.to(self._device))
        return self

    def to_tensor(self) -> torch.Tensor:
        """The state as one flat float64 tensor ``[1 + D + D²]`` (count, mean, ``M₂`` row by
        row), on :attr:`device`: for collectives (``torch.distributed.broadcast``) or custom
        storage. :meth:`from_tensor` reads it back.

        Raises
        ------
        ValueError
            :attr:`dim` is not known yet.
        """
        device = self._device or torch.device("cpu")
        d = self._require_dim("serialise")
        out = torch.zeros(1 + d + d * d, dtype=torch.float64, device=device)
        out[0] = float(self.count)
        if self._mean is not None and self._m2 is not None:
            out[1 : 1 + d] = self._mean
            out[1 + d :] = self._m2.reshape(-1)
        return out

    @classmethod
    def from_tensor(
        cls, tensor: torch.Tensor, metadata: Mapping[str, str] | None = None
    ) -> FeatureStatistics:
        """Statistics from the output of :meth:`to_tensor` (on its device).

        Raises
        ------
        TypeError
            ``tensor`` is not a tensor.
        ValueError
            Its length is not ``1 + D + D²`` for an integer ``D ≥ 1``, or the count is not a
            non-negative integer, or it holds NaN or inf.
        """
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
        t = tensor.detach().reshape(-1).to(torch.float64)
        length = t.numel()
        d = (math.isqrt(max(4 * length - 3, 0)) - 1) // 2  # 4L − 3 = (2D + 1)²
        if d < 1 or 1 + d + d * d != length:
            raise ValueError(f"tensor must have 1 + D + D² elements (FeatureStatistics."
                             f"to_tensor), got {length}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError("tensor holds NaN or inf")
        count = float(t[0])
        if count < 0 or count != int(count):
            raise ValueError(f"tensor's count (element 0) must be an integer >= 0, got {count}")
        out = cls(d, device=t.device, metadata=metadata)
        if count > 0:
            out.count = int(count)
            out._mean = t[1 : 1 + d].clone()
            out._m2 = t[1 + d :].reshape(d, d).clone()
        return out

    def all_reduce(self, group: Any = None) -> FeatureStatistics:
        """Merge the statistics of every rank of ``group`` in place; returns ``self``.

        Collective: every rank of the group must call it. Afterwards every rank holds the same
        statistics (of all ranks' samples). A no-op unless ``torch.distributed`` is initialised
        with more than one process. Ranks that saw no data take the others' dimension. The
        covariance is combined exactly (no ``Σ xxᵀ − n μμᵀ`` cancellation)::

            μ = Σ_r n_r μ_r / n,   M₂ = Σ_r (M₂_r + n_r (μ_r − μ)(μ_r − μ)ᵀ)

        Parameters
        ----------
        group : torch.distributed process group, optional
            Default: the world.

        Raises
        ------
        ValueError
            Ranks disagree on the dimension (on every rank).
        """
        _, world = dist_info(group)
        if world == 1:
            return self
        dist = torch.distributed
        where = reduce_device(group)
        # 1. The dimension: max and min over the ranks that know it.
        dims = torch.tensor([-1.0, -math.inf] if self.dim is None else [self.dim, -self.dim],
                            dtype=torch.float64, device=where)  # fmt: skip
        dist.all_reduce(dims, op=dist.ReduceOp.MAX, group=group)
        hi, lo = float(dims[0]), -float(dims[1])
        if hi < 1:  # no rank has any data or dimension
            return self
        if hi != lo:
            raise ValueError(f"the ranks' statistics have different dimensions (from {lo:g} to "
                             f"{hi:g}): another feature extractor on some rank?")
        d = int(hi)
        self.dim = d
        home = self._device or where
        # 2. The count and the global mean.
        mean = (self._mean if self._mean is not None
                else torch.zeros(d, dtype=torch.float64, device=home)).to(where)  # fmt: skip
        sums = torch.cat([torch.tensor([float(self.count)], dtype=torch.float64, device=where),
                          mean * self.count])  # fmt: skip
        dist.all_reduce(sums, op=dist.ReduceOp.SUM, group=group)
        total = round(float(sums[0]))
        if total == 0:
            return self
        gmean = sums[1:] / total
        # 3. The centred sums of outer products about the global mean.
        delta = mean - gmean
        m2 = (self._m2.to(where) if self._m2 is not None
              else torch.zeros(d, d, dtype=torch.float64, device=where))  # fmt: skip
        m2 = m2 + torch.outer(delta, delta) * self.count
        dist.all_reduce(m2, op=dist.ReduceOp.SUM, group=group)
        self._device = home
        self.count, self._mean, self._m2 = total, gmean.to(home), m2.to(home)
        return self

    @property
    def mean(self) -> np.ndarray:
        """The mean ``μ``, float64 ``[D]`` numpy array (a copy, on the CPU).

        Raises
        ------
        ValueError
            No sample yet.
        """
        if self.count == 0 or self._mean is None:
            raise ValueError("the mean needs at least 1 sample, these statistics have none")
        return self._mean.cpu().numpy().copy()

    @property
    def covariance(self) -> np.ndarray:
        """The unbiased covariance ``M₂ / (n − 1)`` (``numpy.cov``'s default), float64
        ``[D, D]`` numpy array (a copy, on the CPU), exactly symmetric.

        Raises
        ------
        ValueError
            Fewer than 2 samples.
        """
        if self.count < 2 or self._m2 is None:
            raise ValueError(f"the covariance needs at least 2 samples, these statistics have "
                             f"{self.count}")
        c = self._m2.cpu().numpy() / (self.count - 1)
        return (c + c.T) / 2

    def save(self, path: str | Path) -> None:
        """Write the statistics to an ``.npz`` file at exactly ``path`` (no suffix added).

        Keys: ``format``, ``count`` (int64), ``mean`` (float64 ``[D]``), ``m2`` (float64
        ``[D, D]``, the centred sum of outer products, so that :meth:`load` restores the
        statistics bit for bit and they can still be merged) and ``metadata`` (a JSON string).
        The covariance is ``m2 / (count − 1)``.

        Raises
        ------
        ValueError
            :attr:`dim` is not known yet.
        """
        d = self._require_dim("save")
        mean = (np.zeros(d) if self._mean is None else self._mean.cpu().numpy())
        m2 = (np.zeros((d, d)) if self._m2 is None else self._m2.cpu().numpy())
        with open(os.fspath(path), "wb") as f:
            np.savez(f, format=np.array(_FORMAT), count=np.array(self.count, dtype=np.int64),
                     mean=mean.astype(np.float64), m2=m2.astype(np.float64),
                     metadata=np.array(json.dumps(self.metadata, sort_keys=True)))  # fmt: skip

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> FeatureStatistics:
        """Read statistics written by :meth:`save` (onto ``device``, default the CPU).

        Raises
        ------
        FileNotFoundError
            No file at ``path``.
        ValueError
            The file is not such an ``.npz`` (the message names ``path`` and what is wrong).
        """
        path = os.fspath(path)
        device = torch.device("cpu") if device is None else check_device("device", device)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise FileNotFoundError(f"path {path!r}: no such file") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # (truncated, CRC)
            raise ValueError(f"path {path!r} is not a FeatureStatistics .npz file ({exc})") \
                from None
        need = ("format", "count", "mean", "m2", "metadata")
        if any(k not in data for k in need) or str(data["format"]) != _FORMAT:
            raise ValueError(f"path {path!r} is not a FeatureStatistics .npz file (it has keys "
                             f"{sorted(data)}; expected {list(need)} with format {_FORMAT!r})")
        count, mean, m2 = data["count"], data["mean"], data["m2"]
        d = mean.shape[0] if mean.ndim == 1 else -1
        if (count.shape != () or count.dtype.kind not in "iu" or int(count) < 0 or d < 1
                or m2.shape != (d, d) or mean.dtype != np.float64 or m2.dtype != np.float64
                or not (np.isfinite(mean).all() and np.isfinite(m2).all())):  # fmt: skip
            raise ValueError(f"path {path!r}: inconsistent FeatureStatistics (count "
                             f"{short_repr(count.tolist())}, mean {mean.shape} {mean.dtype}, "
                             f"m2 {m2.shape} {m2.dtype}, all finite float64 with m2 [D, D] "
                             f"expected)")
        try:
            metadata = json.loads(str(data["metadata"]))
            metadata = _check_metadata(metadata)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"path {path!r}: unreadable metadata ({exc})") from None
        out = cls(d, device=device, metadata=metadata)
        if int(count) > 0:
            out.count = int(count)
            out._mean = torch.from_numpy(mean).to(device)
            out._m2 = torch.from_numpy(m2).to(device)
        return out


def _check_metadata(metadata: Any) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError(f"metadata must be a mapping of str to str, got {short_repr(metadata)}")
    return dict(metadata)


# ---------------------------------------------------------------------------------------------
# The distance


def _mu_sigma(x: Any, name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean, covariance, eps) of statistics or of a ``(mu, sigma)`` pair, float64, checked;
    ``eps`` the resolution of the dtype the covariance came in (float32 from another tool's
    cache: its rounding sets what counts as asymmetric or negative)."""
    if isinstance(x, FeatureStatistics):
        try:
            return x.mean, x.covariance, _EPS
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise TypeError(f"{name} must be a FeatureStatistics or a (mu, sigma) pair, got "
                        f"{type(x).__name__}")
    arrays = []
    eps = _EPS
    for part, value in zip(("mu", "sigma"), x):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            value = (value.float() if value.dtype == torch.bfloat16 else value).numpy()
        a = np.asarray(value)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name}'s {part} must hold real numbers, got dtype {a.dtype}")
        if part == "sigma" and a.dtype.kind == "f":
            eps = max(eps, float(np.finfo(a.dtype).eps))
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError(f"{name}'s {part} holds NaN or inf")
        arrays.append(a)
    mu, sigma = arrays
    if mu.ndim != 1 or mu.shape[0] < 1:
        raise ValueError(f"{name}'s mu must have shape [D], got {mu.shape}")
    d = mu.shape[0]
    if sigma.shape != (d, d):
        raise ValueError(f"{name}'s sigma must have shape [D, D] = {(d, d)} to match its mu, got "
                         f"{sigma.shape}")
    scale = max(float(np.abs(sigma).max()), np.finfo(np.float64).tiny)
    if float(np.abs(sigma - sigma.T).max()) > 1e4 * eps * scale:  # (well above rounding)
        raise ValueError(f"{name}'s sigma must be symmetric (a covariance)")
    return mu, (sigma + sigma.T) / 2, eps


def frechet_distance(
    a: FeatureStatistics | tuple[Any, Any],
    b: FeatureStatistics | tuple[Any, Any],
) -> float:
    r"""Fréchet distance between two Gaussians, float64: ``‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b −
    2 (Σ_a Σ_b)^{1/2})``.

    The trace of the matrix square root is computed without ``scipy.linalg.sqrtm``: with the
    symmetric square roots :math:`A = \Sigma_a^{1/2}`, :math:`B = \Sigma_b^{1/2}` (from
    ``numpy.linalg.eigh``; eigenvalues within numpy's rank tolerance of 0, the null directions
    of a covariance of fewer samples than features, taken as 0),
    :math:`\Sigma_a \Sigma_b = A \cdot (A B^2)` has the eigenvalues of
    :math:`(A B^2) \cdot A = (AB)(AB)^\top`, the squared singular values of :math:`AB`, so
    :math:`\operatorname{Tr} (\Sigma_a \Sigma_b)^{1/2} = \|AB\|_*`, the sum of the singular
    values of :math:`AB`. They are on the square-root scale already: the product's small
    eigenvalues are not square-rooted nor thresholded (thresholding them dropped real
    directions and biased FID upwards), and no ``ε·I`` is added (a general ``sqrtm`` of the
    non-symmetric :math:`\Sigma_a \Sigma_b` can come back complex or inaccurate for singular
    covariances, always so with fewer samples than features, and is commonly patched that
    way, which changes the result).

    Parameters
    ----------
    a, b : FeatureStatistics or (mu, sigma)
        Statistics with at least 2 samples each, or pairs of a mean ``[D]`` and a symmetric
        positive semi-definite covariance ``[D, D]`` (numpy arrays, tensors or nested
        sequences; e.g. the ``mu`` / ``sigma`` of another tool's cache file).

    Returns
    -------
    float
        The distance, ≥ 0 (the rounding error of identical inputs, ``≈ 1e-12·Tr Σ``, is clipped
        at 0).

    Raises
    ------
    TypeError
        ``a`` or ``b`` is neither.
    ValueError
        Too few samples, shapes that do not match (the message names ``a`` or ``b``), NaN or
        inf, a covariance that is not symmetric or has clearly negative eigenvalues.

    Examples
    --------
    >>> import numpy as np
    >>> from bandlimit.metrics.fid import frechet_distance
    >>> eye = np.eye(3)
    >>> frechet_distance((np.zeros(3), eye), (np.ones(3), eye))       # ‖Δμ‖² = 3
    3.0
    >>> round(frechet_distance((np.zeros(3), eye), (np.zeros(3), 4 * eye)), 12)  # 3·(1 + 4 − 4)
    3.0
    """
    mu_a, s_a, eps_a = _mu_sigma(a, "a")
    mu_b, s_b, eps_b = _mu_sigma(b, "b")
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"a and b must have the same dimension, got {mu_a.shape[0]} and "
                         f"{mu_b.shape[0]} features (statistics of different extractors?)")
    root_a = _psd_root(s_a, "a", eps_a)
    root_b = _psd_root(s_b, "b", eps_b)
    tr_root = float(np.linalg.svd(root_a @ root_b, compute_uv=False).sum())
    diff = mu_a - mu_b
    dist = float(diff @ diff) + float(np.trace(s_a)) + float(np.trace(s_b)) - 2 * tr_root
    return max(dist, 0.0)


def _psd_root(sigma: np.ndarray, name: str, eps: float) -> np.ndarray:
    """The symmetric square root of a covariance. Eigenvalues within rounding of 0 (numpy's
    rank tolerance, ``D·eps`` of the largest, ``eps`` the input's resolution: the null
    directions of a covariance of fewer samples than features) are 0: a square root would turn
    their residue ``ε·‖Σ‖`` into ``√ε·‖Σ‖^½``. Clearly negative ones are refused."""
    w, v = np.linalg.eigh(sigma)
    top = max(float(np.abs(w).max()), np.finfo(np.float64).tiny)
    tol = sigma.shape[0] * eps * top
    if float(w.min()) < -max(1e-8 * top, 10 * tol):
        raise ValueError(f"{name}'s covariance is not positive semi-definite (eigenvalue "
                         f"{float(w.min()):.3g}, largest {top:.3g})")
    return (v * np.sqrt(np.where(w > tol, w, 0.0))) @ v.T


# ---------------------------------------------------------------------------------------------
# Feature extractors


class _InceptionPool3(torch.nn.Module):
    """torchvision's Inception-v3 up to its 2048-D average pool (``fc`` replaced by identity),
    with the preprocessing of its ImageNet weights. Always in evaluation mode."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        net.fc = torch.nn.Identity()
        self.net = net.eval().requires_grad_(False)
        # (buffers declared by assignment, not by class annotations: under PEP 563 those are
        # strings that torch.jit.script cannot resolve, and the module should stay scriptable)
        self.shift = torch.nn.Buffer(torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.scale = torch.nn.Buffer(torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        self.size = INCEPTION_SIZE

    def train(self, mode: bool = True) -> _InceptionPool3:
        # A fixed feature extractor: dropout and batch statistics would change the features.
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.shift.dtype)
        if x.shape[-2] != self.size or x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear",
                              align_corners=False, antialias=True)  # fmt: skip
        x = ((x + 1) / 2 - self.shift) / self.scale  # [−1, 1] → [0, 1] → ImageNet normalised
        out = self.net(x)
        if isinstance(out, torch.Tensor):
            return out
        return out[0]  # (torch.jit.script: the network returns (features, aux) then)


def _hub_weights_path(url: str) -> Path:
    """Where ``torch.hub.load_state_dict_from_url`` keeps ``url``'s file (not downloading it)."""
    name = os.path.basename(url.split("?")[0])
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def inception_features(
    weights: str | Path | None = "DEFAULT",
    *,
    device: torch.device | str | None = None,
) -> torch.nn.Module:
    r"""torchvision's Inception-v3 as a 2048-D pool3 feature extractor (never downloads).

    The returned module maps images ``[N, 3, H, W]``, float in ``[−1, 1]``, to features
    ``[N, 2048]`` (float32): it resizes them to 299 × 299 (bilinear, antialiased when shrinking;
    the whole image, not torchvision's resize-to-342-and-crop), maps ``[−1, 1]`` to ``[0, 1]``
    and applies the ImageNet normalisation torchvision's weights expect (with the model's own
    ``transform_input``, as torchvision builds it for these weights), then runs the network up to
    the global average pool. It stays in evaluation mode (``.train()`` is a no-op) and its
    parameters do not require gradients. It can be scripted and saved for machines without
    torchvision or the weights: ``torch.jit.save(torch.jit.script(net), 'inception.pt')``, then
    ``load_feature_extractor('inception.pt')`` there.

    FIDs measured with it are only comparable with FIDs measured with it: its weights
    (torchvision's ImageNet training) are not those of the TensorFlow Inception graph the papers
    used (``pt_inception-2015-12-05``), so its values are not the published ones.

    Parameters
    ----------
    weights : ``'DEFAULT'``, ``'IMAGENET1K_V1'``, path or None
        ``'DEFAULT'`` / ``'IMAGENET1K_V1'`` (the same): torchvision's weights file, read from
        the torch hub cache (``torch.hub.get_dir()/checkpoints/inception_v3_google-*.pth``,
        where ``torchvision.models.inception_v3(weights='DEFAULT')`` stores it); it must
        already be there. A path: that file (a state dict of torchvision's ``inception_v3``, e.g.
        the same download copied elsewhere; ``fc`` may be left out), loaded with
        ``weights_only=True``. None: random
        initialisation (each layer's torch default, from torch's global RNG; not torchvision's
        slower truncated-normal one): for tests and timing only, its FIDs mean nothing.
    device : torch.device, str or None
        Where to put the module (default: the CPU).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    ImportError
        torchvision is not installed.
    FileNotFoundError
        The weights file is not there; the message says how to provide it.
    ValueError
        An unknown ``weights`` name, or a file that is not a matching state dict.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.fid import inception_features
    >>> net = inception_features()                    # doctest: +SKIP
    >>> net(torch.rand(4, 3, 64, 64) * 2 - 1).shape   # doctest: +SKIP
    torch.Size([4, 2048])
    """
    try:  # (imported by name: torchvision is optional, and mypy need not find it)
        torchvision = importlib.import_module("torchvision")
    except ImportError as exc:
        raise ImportError(
            f"inception_features needs torchvision, which is not importable ({exc}): pip "
            f"install torchvision (the release matching torch {torch.__version__}), or use "
            f"another extractor, e.g. a TorchScript file with load_feature_extractor(path)"
        ) from None
    device = torch.device("cpu") if device is None else check_device("device", device)
    kind = torchvision.models.Inception_V3_Weights
    state: dict[str, Any] | None = None
    if weights is None:
        pass
    elif isinstance(weights, str) and weights in ("DEFAULT", "IMAGENET1K_V1"):
        url = kind.IMAGENET1K_V1.url
        file = _hub_weights_path(url)
        if not file.is_file():
            raise FileNotFoundError(
                f"torchvision's Inception-v3 weights are not in the torch hub cache (expected "
                f"{str(file)!r}) and inception_features never downloads. On a machine with "
                f"network access run python -c \"import torchvision; torchvision.models."
                f"inception_v3(weights='DEFAULT')\" (it downloads {url} into "
                f"$TORCH_HOME/hub/checkpoints) and copy the file to {str(file)!r}, or pass "
                f"weights='/path/to/{file.name}'; or use a TorchScript feature extractor "
                f"(load_feature_extractor('/path/to/extractor.pt'))"
            )
        state = _load_state(file)
    elif isinstance(weights, (str, os.PathLike)):
        if isinstance(weights, str) and weights.isupper() and not os.path.exists(weights):
            raise ValueError(f"weights must be 'DEFAULT', 'IMAGENET1K_V1', a path or None, got "
                             f"{weights!r}")
        file = Path(os.fspath(weights))
        if not file.is_file():
            raise FileNotFoundError(f"weights {str(file)!r}: no such file (a state dict of "
                                    f"torchvision's inception_v3 is expected)")
        state = _load_state(file)
    else:
        raise TypeError(f"weights must be 'DEFAULT', 'IMAGENET1K_V1', a path or None, got "
                        f"{type(weights).__name__}")
    net = torchvision.models.inception_v3(
        weights=None, aux_logits=True, transform_input=True, init_weights=False
    )
    if state is not None:
        # The classifier (fc) is not used: a state dict without it (e.g. the ``.net`` of this
        # extractor, whose fc is the identity) loads too.
        own = net.state_dict()
        missing = [k for k in own if k not in state and not k.startswith("fc.")]
        extra = [k for k in state if k not in own]
        shaped = [k for k in own if k in state and isinstance(state[k], torch.Tensor)
                  and state[k].shape != own[k].shape]  # fmt: skip
        if missing or extra or shaped:
            what = "; ".join(f"{len(keys)} {why} (e.g. {keys[0]!r})" for keys, why in (
                (missing, "tensors missing"), (extra, "unexpected tensors"),
                (shaped, "tensors of another shape")) if keys)  # fmt: skip
            raise ValueError(f"weights {str(weights)!r} do not fit torchvision's inception_v3: "
                             f"{what}")
        try:
            net.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # (e.g. a non-tensor value)
            first = str(exc).strip().splitlines()[0]
            raise ValueError(f"weights {str(weights)!r} do not fit torchvision's inception_v3: "
                             f"{first}") from None
    return _InceptionPool3(net).to(device)


def _load_state(file: Path) -> dict[str, Any]:
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # (a truncated download, another format: many exception types)
        raise ValueError(f"weights {str(file)!r} cannot be read as a state dict: {exc}") \
            from None
    if not isinstance(state, dict):
        raise ValueError(f"weights {str(file)!r} hold a {type(state).__name__}, not a state dict")
    return state


def load_feature_extractor(
    spec: str | Path, device: torch.device | str | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A feature extractor from a file, or torchvision's Inception-v3.

    Parameters
    ----------
    spec : str or path
        ``'torchvision'``: :func:`inception_features` with its default weights (from the torch
        hub cache; never downloaded). A path ending in ``.pt2``: a ``torch.export`` program
        (``torch.export.save``; export it with a dynamic batch dimension), called as is. Any
        other path: a TorchScript module (``torch.jit.save``; TorchScript is deprecated in
        recent torch releases, which is why ``.pt2`` is accepted too), put in evaluation mode.
        Either must map images ``[N, 3, H, W]`` in ``[−1, 1]`` to features ``[N, D]``.
    device : torch.device, str or None
        Where to load it (default: the CPU).

    Returns
    -------
    callable
        A module ``images -> features``.

    Raises
    ------
    FileNotFoundError
        No such file (or, for ``'torchvision'``, no cached weights).
    ImportError
        ``'torchvision'`` without torchvision installed.
    ValueError
        The file cannot be loaded as a TorchScript or ``torch.export`` program.

    Examples
    --------
    >>> import tempfile, torch
    >>> from bandlimit.metrics.fid import load_feature_extractor
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.AdaptiveAvgPool2d(1),
    ...                           torch.nn.Flatten())
    >>> path = tempfile.mkdtemp() + "/extractor.pt"
    >>> torch.jit.save(torch.jit.script(net), path)   # doctest: +SKIP
    >>> load_feature_extractor(path)(torch.zeros(2, 3, 16, 16)).shape  # doctest: +SKIP
    torch.Size([2, 8])
    """
    device = torch.device("cpu") if device is None else check_device("device", device)
    if isinstance(spec, str) and spec == "torchvision":
        return inception_features("DEFAULT", device=device)
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"spec must be 'torchvision' or a path, got {type(spec).__name__}")
    path = Path(os.fspath(spec))
    if not path.is_file():
        raise FileNotFoundError(f"feature extractor {str(path)!r}: no such file (expected a "
                                f"TorchScript file, a torch.export .pt2 file, or 'torchvision')")
    if path.suffix == ".pt2":
        try:
            program = torch.export.load(str(path))
        except Exception as exc:  # (torch raises many kinds for a bad archive)
            raise ValueError(f"feature extractor {str(path)!r} cannot be loaded as a "
                             f"torch.export program: {exc}") from None
        module: torch.nn.Module = program.module()
        return module.to(device)
    try:
        with warnings.catch_warnings():
            # torch ≥ 2.10 deprecates TorchScript; the user chose the format (.pt2 is the
            # alternative, documented above), so its warning on every load would only be noise.
            warnings.filterwarnings("ignore", message=r".*torch\.jit\..* is deprecated",
                                    category=FutureWarning)  # fmt: skip
            module = torch.jit.load(str(path), map_location=device)
    except Exception as exc:  # (RuntimeError for a non-TorchScript file, others for damage)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"feature extractor {str(path)!r} cannot be loaded as a TorchScript "
                         f"module (torch.jit.save): {first}") from None
    return module.eval()


def _extractor_placement(features: Any) -> tuple[torch.device | None, torch.dtype | None]:
    """The device and floating dtype of a module extractor's first floating parameter or
    buffer (None, None for a plain callable or a module without any)."""
    if isinstance(features, torch.nn.Module):
        for t in (*features.parameters(), *features.buffers()):
            if t.is_floating_point():
                return t.device, t.dtype
    return None, None


# ---------------------------------------------------------------------------------------------
# Images → statistics


def _batch_images(item: Any, what: str) -> torch.Tensor:
    """The image tensor of one batch: a tensor / array, or the first element of a tuple or list
    (an ``(images, labels)`` pair from a data loader)."""
    if isinstance(item, (tuple, list)) and item:
        item = item[0]
    if isinstance(item, np.ndarray):
        item = _from_numpy(item)
    if not isinstance(item, torch.Tensor):
        raise TypeError(f"{what} must be a tensor [N, C, H, W] (or a tuple whose first element "
                        f"is one), got {type(item).__name__}")
    if item.ndim != 4:
        raise ValueError(f"{what} must have shape [N, C, H, W], got {tuple(item.shape)}")
    if item.shape[1] not in (1, 3):
        raise ValueError(f"{what} must have 1 (grayscale) or 3 (RGB) channels, got shape "
                         f"{tuple(item.shape)}")
    return item


def _prepare(images: torch.Tensor, what: str, generated: bool, quantize: bool,
             device: torch.device | None, dtype: torch.dtype | None) -> torch.Tensor:
    """``images`` as float RGB in [−1, 1] on ``device``: uint8 mapped from [0, 255], gray
    repeated to RGB, generated images optionally clamped and rounded to 8-bit levels."""
    if images.dtype == torch.uint8:
        x = images.to(device=device).float() / 127.5 - 1
    elif images.is_floating_point():
        bad = int((~torch.isfinite(images)).sum())
        if bad:
            msg = (f"{what} has {bad} non-finite value{'s' if bad != 1 else ''} (NaN or inf): "
                   f"FID is undefined")
            if generated:
                raise NonFiniteImagesError(msg + "; a diverged generator?")
            raise ValueError(msg)
        x = images.to(device=device)
        if generated and quantize:
            # As saved images: [−1, 1] → 255 levels, rounded (real data are 8-bit too).
            x = ((x.float().clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
    else:
        raise TypeError(f"{what} must be float in [-1, 1] or uint8 in [0, 255], got "
                        f"{images.dtype}")
    if dtype is not None:
        x = x.to(dtype)
    elif not x.is_floating_point():
        x = x.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x


def _extract(features: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
             what: str) -> torch.Tensor:
    out = features(images)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the feature extractor must return a tensor [N, D], got "
                        f"{type(out).__name__} for {what}")
    n = images.shape[0]
    if out.ndim > 2 and all(s == 1 for s in out.shape[2:]):  # (a pooled [N, D, 1, 1] map)
        out = out.reshape(out.shape[0], out.shape[1])
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(f"the feature extractor must map {n} images to features [{n}, D], got "
                         f"shape {tuple(out.shape)} for {what}")
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"the feature extractor returned NaN or inf for {what}")
    return out


def _check_features(features: Any) -> None:
    if not callable(features):
        raise TypeError(f"features must be a callable images -> features (e.g. "
                        f"load_feature_extractor(...)), got {type(features).__name__}")


def feature_statistics(
    batches: Iterable[Any],
    features: Callable[[torch.Tensor], torch.Tensor],
    *,
    max_images: int | None = None,
    device: torch.device | str | None = None,
) -> FeatureStatistics:
    """Statistics of the features of image batches (e.g. a dataset's, to cache with
    :meth:`FeatureStatistics.save`).

    Runs under ``torch.no_grad()``. Each batch is moved to the extractor's device and floating
    dtype (see ``device``); uint8 images are mapped from ``[0, 255]`` to ``[−1, 1]``; grayscale
    images are repeated to RGB.

    Parameters
    ----------
    batches : iterable
        Batches of images ``[N, C, H, W]`` with ``C`` 1 or 3 — float in ``[−1, 1]`` (not
        ``[0, 1]``: that is not checked) or uint8 in ``[0, 255]``; torch tensors or numpy
        arrays, or tuples whose first element is one (``(images, labels)`` from a data loader).
    features : callable
        The feature extractor, images ``[N, 3, H, W]`` → ``[N, D]`` (``[N, D, 1, 1]`` is
        flattened).
    max_images : int ≥ 1 or None
        Use only the first ``max_images`` images (the batch that reaches it is cut); needed for
        an endless iterable. None (default): all.
    device : torch.device, str or None
        Where the images go; default: the device of the extractor's parameters when it is a
        module that has some, else wherever the batches are.

    Returns
    -------
    FeatureStatistics
        On the device the features come back on.

    Raises
    ------
    TypeError, ValueError
        A batch that is not an image tensor, images with NaN or inf, an extractor that does not
        return ``[N, D]``, no images at all.

    Notes
    -----
    Under an initialised ``torch.distributed`` process group (collective: call it on every
    rank with the same batches) rank ``r`` of ``world`` extracts the features of batches
    ``r, r + world, …`` and the statistics are all-reduced: every rank returns the same ones,
    equal to one process's to float64 rounding. A :class:`~collections.abc.Sequence` of batches
    is indexed, so each rank reads only its own (without ``max_images``); another iterable is
    iterated in full on every rank.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.metrics.fid import feature_statistics
    >>> pool = lambda x: x.mean((2, 3))          # a toy extractor: the mean colour, D = 3
    >>> data = [torch.rand(8, 3, 16, 16) * 2 - 1 for _ in range(4)]
    >>> stats = feature_statistics(data, pool)
    >>> stats.count, stats.covariance.shape
    (32, (3, 3))
    """
    _check_features(features)
    if max_images is not None:
        max_images = check_int("max_images", max_images, 1)
    where, dtype = _extractor_placement(features)
    if device is not None:
        where = check_device("device", device)
    if isinstance(batches, (torch.Tensor, np.ndarray)):
        raise TypeError("batches must be an iterable of image batches; wrap a single batch "
                        "in a list: [images]")
    if not isinstance(batches, Iterable):
        raise TypeError(f"batches must be an iterable of image batches, got "
                        f"{type(batches).__name__}")
    rank, world = dist_info()
    stats = FeatureStatistics()
    error: Exception | None = None
    try:
        with torch.no_grad():
            if world > 1 and max_images is None and isinstance(batches, Sequence):
                mine: Iterable[tuple[int, Any]] = ((k, batches[k])
                                                   for k in range(rank, len(batches), world))
            else:
                mine = enumerate(batches)
            seen = 0
            for k, item in mine:
                what = f"batch {k}"
                images = _batch_images(item, what)
                if max_images is not None:
                    images = images[: max_images - seen]
                    seen += images.shape[0]
                if k % world == rank and images.shape[0]:
                    x = _prepare(images, what, False, False, where, dtype)
                    stats.update(_extract(features, x, what))
                if max_images is not None and seen >= max_images:
                    break
    except Exception as exc:  # (raised below, on every rank)
        error = exc
    _raise_on_every_rank(error)
    stats.all_reduce()
    if stats.count == 0:
        raise ValueError("batches held no images")
    return stats


def _module_generate(G: torch.nn.Module) -> Callable[[int], torch.Tensor]:
    z_dim = getattr(G, "z_dim", None)
    if isinstance(z_dim, bool) or not isinstance(z_dim, int) or z_dim < 0:
        raise TypeError(f"generate as a module must have an int z_dim attribute (a StyleGAN-style "
                        f"generator G(z, c)), got z_dim={short_repr(z_dim)}; or pass a callable "
                        f"n -> images")
    c_dim = getattr(G, "c_dim", 0)
    if c_dim:
        raise ValueError(f"generate is a conditional generator (c_dim = {short_repr(c_dim)}): "
                         f"pass a callable n -> images that draws the labels")
    try:
        where = next(t.device for t in (*G.parameters(), *G.buffers()))
    except StopIteration:
        where = torch.device("cpu")

    def gen(n: int) -> torch.Tensor:
        # z on the CPU (the seeded global RNG), so that the latents do not depend on the device
        z = torch.randn([n, z_dim]).to(where)
        return G(z, torch.zeros([n, 0], device=where))

    return gen


def fid(
    generate: Callable[[int], torch.Tensor] | torch.nn.Module,
    real: Iterable[Any] | FeatureStatistics,
    features: Callable[[torch.Tensor], torch.Tensor],
    num_fake: int = 50_000,
    batch_size: int = 64,
    *,
    seed: int = 0,
    max_real: int | None = None,
    device: torch.device | str | None = None,
    quantize: bool = True,
) -> float:
    r"""FID between a generator's images and real images, under one feature extractor.

    ``num_fake`` images are generated in batches of ``batch_size``; batch ``k`` is generated
    with torch's global RNG seeded by ``(seed, k)`` inside :func:`torch.random.fork_rng`, so the
    result is reproducible and the caller's RNG state is untouched. Generated images are (with
    ``quantize``) clamped to ``[−1, 1]`` and rounded to 8-bit levels, as saved images are; then
    both sets go through ``features`` (:func:`feature_statistics` for ``real``) and
    :func:`frechet_distance` compares them. Runs under ``torch.no_grad()``.

    Parameters
    ----------
    generate : callable or torch.nn.Module
        ``generate(n)`` → images ``[n, C, H, W]``, float in ``[−1, 1]`` (``C`` 1 or 3); it
        should draw its randomness from torch's global RNG (seeded here). Or an unconditional
        StyleGAN-style generator module with a ``z_dim`` attribute, called as
        ``G(z, c)`` with ``z ~ N(0, I)`` ``[n, z_dim]`` drawn on the CPU and ``c`` ``[n, 0]``
        on its device (a conditional one, ``c_dim > 0``, needs a callable that draws labels).
    real : iterable of image batches, or FeatureStatistics
        Real images (as for :func:`feature_statistics`), or their statistics computed before
        with the same ``features`` (e.g. :meth:`FeatureStatistics.load` of a cache).
    features : callable
        The feature extractor, images ``[N, 3, H, W]`` in ``[−1, 1]`` → ``[N, D]``; e.g.
        :func:`inception_features` or :func:`load_feature_extractor`. A module should be in
        evaluation mode.
    num_fake : int ≥ 2
        Generated images (50 000 in the papers; fewer give a higher, noisier FID).
    batch_size : int ≥ 1
        Images per ``generate`` call (the last batch may be smaller). Each batch is generated
        under its own seed, so the images, and the FID, depend on ``batch_size`` too: compare
        values measured with equal ``batch_size`` (and ``seed``, ``num_fake``).
    seed : int ≥ 0
        Seeds the generation.
    max_real : int ≥ 1 or None
        Real images to use from ``real`` (None: all; needed for an endless loader).
    device : torch.device, str or None
        Where images meet the extractor (default: see :func:`feature_statistics`).
    quantize : bool
        Clamp and round generated images to 8-bit levels first (default True).

    Returns
    -------
    float
        FID, ≥ 0.

    Raises
    ------
    NonFiniteImagesError
        ``generate`` returned NaN or inf (a ``ValueError``).
    TypeError, ValueError
        Bad arguments; images or features of the wrong shape; real statistics of another
        dimension than the extractor's features.

    Notes
    -----
    Under an initialised ``torch.distributed`` process group (collective: call it on every
    rank) rank ``r`` of ``world`` generates batches ``r, r + world, …`` and extracts its share
    of the real batches; the statistics are all-reduced and every rank returns the same value,
    equal to one process's to float64 rounding.

    Examples
    --------
    A toy generator and extractor (the mean colour and its spread, ``D = 6``):

    >>> import torch
    >>> from bandlimit.metrics.fid import fid
    >>> gen = lambda n: torch.rand(n, 3, 8, 8) * 2 - 1
    >>> extract = lambda x: torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)
    >>> reals = [torch.rand(16, 3, 8, 8) * 2 - 1 for _ in range(8)]
    >>> score = fid(gen, reals, extract, num_fake=128, batch_size=32, seed=0)
    >>> score == fid(gen, reals, extract, num_fake=128, batch_size=32, seed=0)
    True
    """
    _check_features(features)
    num_fake = check_int("num_fake", num_fake, 2)
    batch_size = check_int("batch_size", batch_size, 1)
    seed = check_int("seed", seed, 0)
    quantize = check_bool("quantize", quantize)
    if max_real is not None:
        max_real = check_int("max_real", max_real, 1)
    where, dtype = _extractor_placement(features)
    if device is not None:
        where = check_device("device", device)
    if isinstance(generate, torch.nn.Module) and hasattr(generate, "z_dim"):
        gen = _module_generate(generate)
    elif callable(generate):
        gen = generate
    else:
        raise TypeError(f"generate must be a callable n -> images or a generator module, got "
                        f"{type(generate).__name__}")

    if isinstance(real, FeatureStatistics):
        if max_real is not None:
            raise ValueError("max_real applies to real image batches, not to FeatureStatistics "
                             "(already computed)")
        if real.count < 2:
            raise ValueError(f"real statistics need at least 2 samples, got {real.count}")
        real_stats = real
    elif (isinstance(real, (tuple, list)) and len(real) == 2
          and all(getattr(v, "ndim", None) == k for v, k in zip(real, (1, 2)))):  # fmt: skip
        raise TypeError("real looks like a (mu, sigma) pair: fid() takes image batches or "
                        "FeatureStatistics; compare a pair with frechet_distance(pair, "
                        "fake_statistics) instead")
    else:
        real_stats = feature_statistics(real, features, max_images=max_real, device=device)

    rank, world = dist_info()
    fake = FeatureStatistics()
    num_batches = -(-num_fake // batch_size)
    forked = ([torch.cuda.current_device()]
              if torch.cuda.is_available() and torch.cuda.is_initialized() else [])  # fmt: skip
    error: Exception | None = None
    try:
        with torch.no_grad():
            for k in range(rank, num_batches, world):
                n = min(batch_size, num_fake - k * batch_size)
                with torch.random.fork_rng(devices=forked):
                    torch.manual_seed(batch_seed(seed, k))
                    made = gen(n)
                what = f"the generated batch {k}"
                images = _batch_images(made, what)
                if images.shape[0] != n:
                    raise ValueError(f"generate({n}) returned {images.shape[0]} images")
                x = _prepare(images, what, True, quantize, where, dtype)
                fake.update(_extract(features, x, what))
    except Exception as exc:  # (raised below, on every rank)
        error = exc
    _raise_on_every_rank(error)
    fake.all_reduce()
    if real_stats.dim != fake.dim:
        raise ValueError(f"the real statistics have {real_stats.dim} features per sample but the "
                         f"extractor gives {fake.dim}: statistics of another extractor?")
    return frechet_distance(real_stats, fake)
