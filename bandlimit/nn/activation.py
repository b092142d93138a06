"""Periodic activations and alias-free activation modules built on :mod:`bandlimit.ops`.

* :class:`Snake`, :class:`SnakeBeta`: BigVGAN's periodic activations (plain, pointwise; they alias
  when used on their own).
* :class:`AliasFreeActivation1d`, :class:`AliasFreeActivation2d`: up-sample → activation →
  down-sample as one fused call of :func:`bandlimit.ops.filtered_act1d` /
  :func:`bandlimit.ops.filtered_act`, for any activation the op knows.
"""

from __future__ import annotations

import copy
import inspect
import math
import re
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bandlimit._checks import check_bool, check_int, check_real
from bandlimit.filters import kaiser_jinc, kaiser_sinc, kaiser_sinc_bigvgan
from bandlimit.filters.kaiser import bigvgan_window, windowed_jinc
from bandlimit.nn._module import Module
from bandlimit.ops import FilteredAct1dStream, filtered_act, filtered_act1d, filtered_act3d
from bandlimit.ops._activations import (
    FILTERED_ACTIVATIONS,
    PARAMETRIC_ACTIVATIONS,
)
from bandlimit.ops._dispatch import HALF_DTYPES, _check_impl
from bandlimit.ops._params import check_tensor
from bandlimit.ops.reference import check_padding_mode


class _SnakeBase(Module):
    """Per-channel parameters stored directly or as logarithms (``alpha_logscale``)."""

    kind = "snake"

    def __init__(
        self,
        in_features: int,
        alpha: float = 1.0,
        alpha_trainable: bool = True,
        alpha_logscale: bool = False,
    ):
        super().__init__()
        self.in_features = check_int("in_features", in_features, 1)
        self.alpha_logscale = check_bool("alpha_logscale", alpha_logscale)
        alpha_trainable = check_bool("alpha_trainable", alpha_trainable)
        init = 0.0 if self.alpha_logscale else check_real("alpha", alpha)
        self._init = init
        self.alpha = nn.Parameter(torch.full((in_features,), init), requires_grad=alpha_trainable)
        if self.kind == "snakebeta":
            self.beta = nn.Parameter(
                torch.full((in_features,), init), requires_grad=alpha_trainable
            )

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Set ``alpha`` (and ``beta``) back to their initial value."""
        # (a module pickled before _init existed: the constructor's default)
        init = getattr(self, "_init", 0.0 if self.alpha_logscale else 1.0)
        for p in (self.alpha, getattr(self, "beta", None)):
            if p is not None and not p.is_meta:
                p.fill_(init)

    def params(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The effective ``(α, β)`` (``exp`` of the stored values in log scale; β None for
        Snake), differentiable with respect to the stored parameters."""
        a: torch.Tensor = self.alpha
        b = getattr(self, "beta", None)
        if self.alpha_logscale:
            a = torch.exp(a)
            b = None if b is None else torch.exp(b)
        return a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pointwise on ``x [N, C, ...]`` (no anti-aliasing: wrap it in an alias-free module).

        ``x`` must be a floating-point tensor (``TypeError`` otherwise: an integer one would
        give truncated values with no gradient to ``alpha``)."""
        check_tensor(x, "x")
        if x.ndim < 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"x must have shape [N, {self.in_features}, ...], got {tuple(x.shape)}"
            )
        a, b = self.params()
        shape = (1, -1) + (1,) * (x.ndim - 2)
        # (the parameters in their own dtype: the function computes in at least float32)
        a = a.reshape(shape)
        b = None if b is None else b.reshape(shape)
        return PARAMETRIC_ACTIVATIONS[self.kind].fn(x, a, b)

    def extra_repr(self) -> str:
        return f"{self.in_features}, alpha_logscale={self.alpha_logscale}"


class Snake(_SnakeBase):
    r"""Snake: :math:`y = x + \sin^2(\alpha x) / (\alpha + 10^{-9})`, per-channel :math:`\alpha`.

    BigVGAN's periodic activation, pointwise on a floating-point ``[N, C, ...]`` tensor (any
    number of trailing axes; another dtype or a non-tensor raises a ``TypeError``; the output
    has the input's shape, dtype and device, computed in at least float32). On its
    own it aliases: wrap it in :class:`AliasFreeActivation1d` or
    :class:`bandlimit.nn.bigvgan.Activation1d` for an alias-free block, which then uses and
    trains its ``alpha``. ``params()`` returns the effective :math:`\alpha` (and None for
    :math:`\beta`), differentiable with respect to the stored parameter.

    Parameters
    ----------
    in_features : int
        Channels ``C`` of the ``[N, C, ...]`` input (another channel count raises a
        ``ValueError``).
    alpha : float, default 1.0
        Initial :math:`\alpha`; ignored with ``alpha_logscale``, where the stored
        :math:`\log\alpha` starts at 0 (:math:`\alpha = 1`).
    alpha_trainable : bool, default True
        Whether ``alpha`` requires grad (it is a parameter and in the state dict either way).
    alpha_logscale : bool, default False
        Store :math:`\log\alpha` (BigVGAN v2); :math:`\alpha = \exp(\cdot)` of it.

    Attributes
    ----------
    alpha : torch.nn.Parameter ``[C]``
        The stored value (:math:`\log\alpha` with ``alpha_logscale``), in the default dtype;
        the only state-dict key, ``alpha``, BigVGAN's layout, so its trained values load
        unchanged.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import Snake
    >>> snake = Snake(4)
    >>> snake(torch.randn(2, 4, 16)).shape
    torch.Size([2, 4, 16])
    >>> list(snake.state_dict())
    ['alpha']
    >>> y = snake(torch.full((1, 4, 1), 0.5)).detach()  # 0.5 + sin²(0.5) / 1
    >>> round(float(y[0, 0, 0]), 4)
    0.7298
    """

    kind = "snake"


class SnakeBeta(_SnakeBase):
    r"""SnakeBeta: :math:`y = x + \sin^2(\alpha x) / (\beta + 10^{-9})`, per-channel
    :math:`\alpha` and :math:`\beta`.

    BigVGAN's periodic activation with a separate magnitude :math:`\beta`; pointwise and
    aliasing on its own, as :class:`Snake` (shapes, dtypes and ``params()`` as there, ``params()``
    returning :math:`(\alpha, \beta)`).

    Parameters
    ----------
    in_features : int
        Channels ``C`` of the ``[N, C, ...]`` input.
    alpha : float, default 1.0
        Initial value of both :math:`\alpha` and :math:`\beta`; ignored with
        ``alpha_logscale``, where both stored logarithms start at 0 (:math:`\alpha = \beta = 1`).
    alpha_trainable : bool, default True
        Whether ``alpha`` and ``beta`` require grad.
    alpha_logscale : bool, default False
        Store :math:`\log\alpha` and :math:`\log\beta` (BigVGAN v2).

    Attributes
    ----------
    alpha, beta : torch.nn.Parameter ``[C]``
        The stored values (logarithms with ``alpha_logscale``), in the default dtype; keys
        ``alpha`` and ``beta`` of the state dict, BigVGAN's layout.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import SnakeBeta
    >>> snake = SnakeBeta(8, alpha_logscale=True)
    >>> snake(torch.randn(1, 8, 32)).shape
    torch.Size([1, 8, 32])
    >>> sorted(snake.state_dict())
    ['alpha', 'beta']
    >>> alpha, beta = snake.params()  # exp of the stored zeros
    >>> float(alpha[0].detach()), float(beta[0].detach())
    (1.0, 1.0)
    """

    kind = "snakebeta"


# ------------------------------------------------------------------------------------------
# Which op activation a module is


def resolve_activation(act: object):
    """``(name, alpha, beta, gain, module)`` for an activation given as a name or a module.

    Strings are the op's names (default gains). Modules: :class:`Snake`, :class:`SnakeBeta` and
    look-alikes (BigVGAN's, recognised by class name and their ``alpha``/``beta``/
    ``alpha_logscale`` attributes; :func:`snake_fusable` then checks their formula), and
    ``nn.LeakyReLU``, ``nn.ReLU``, ``nn.GELU``, ``nn.SiLU``, ``nn.Tanh``, ``nn.Sigmoid``,
    ``nn.ELU(alpha=1)``, ``nn.CELU(alpha=1)``, ``nn.SELU``, ``nn.Softplus(beta=1,
    threshold=20)``, ``nn.Identity``, all with gain 1 (the exact classes, not subclasses).
    Returns None for a module the op cannot express (which the modules then run unfused, between
    the op's stages).
    """
    if isinstance(act, str):
        if act not in FILTERED_ACTIVATIONS:
            raise ValueError(
                f"act must be one of {sorted(FILTERED_ACTIVATIONS)} (fused), or a module or "
                f"callable (e.g. nn.Mish() or torch.nn.functional.mish: unfused), got {act!r}"
            )
        return act, None, None, None, None
    if not isinstance(act, nn.Module):
        raise TypeError(f"act must be a str or an nn.Module, got {type(act).__name__}")
    # (by class name, through subclasses: torch's parametrize renames one ParametrizedSnake)
    name = next((c.__name__ for c in type(act).__mro__ if c.__name__ in ("Snake", "SnakeBeta")),
                None)  # fmt: skip
    if name is not None and hasattr(act, "alpha"):
        return name.lower(), None, None, 1.0, act
    if type(act) in _SIMPLE:
        return _SIMPLE[type(act)], None, None, 1.0, None
    if type(act) is nn.LeakyReLU:
        return "lrelu", float(act.negative_slope), None, 1.0, None
    if type(act) is nn.GELU and act.approximate in _GELU:
        return _GELU[act.approximate], None, None, 1.0, None
    # CELU with alpha 1 is ELU with alpha 1: max(0, x) + min(0, exp(x) − 1).
    if (type(act) is nn.ELU or type(act) is nn.CELU) and act.alpha == 1.0:
        return "elu", None, None, 1.0, None
    # The op's softplus is torch's with its defaults, the threshold included (x itself above 20).
    if type(act) is nn.Softplus and act.beta == 1.0 and act.threshold == 20.0:
        return "softplus", None, None, 1.0, None
    return None


_SIMPLE: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.SiLU: "silu",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
    nn.SELU: "selu",
    nn.Identity: "linear",
}
_GELU = {"none": "gelu", "tanh": "gelu_tanh"}  # nn.GELU's approximate → the op's name


def snake_params(
    module: nn.Module, channels: int | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Effective ``(α, β)`` of a Snake/SnakeBeta module (ours or a look-alike). With
    ``channels``, a look-alike's parameters laid out otherwise than BigVGAN's ``[C]`` (SiFiGAN's
    ``[1, C, 1]``, or one value broadcast over every channel) are given as ``[channels]``;
    parameters that fit neither are returned as they are (the op then names their shape)."""
    if isinstance(module, _SnakeBase):
        return module.params()
    # (a foreign Snake's parameter: torch types nn.Module attributes as Tensor | Module)
    a: torch.Tensor = module.alpha  # type: ignore[assignment]
    b = getattr(module, "beta", None)
    if getattr(module, "alpha_logscale", False):
        a = torch.exp(a)
        b = None if b is None else torch.exp(b)
    if channels is not None:
        a = _per_channel(a, channels)
        b = None if b is None else _per_channel(b, channels)
    return a, b


def _per_channel(p: torch.Tensor, channels: int) -> torch.Tensor:
    """``p`` as ``[channels]`` where its values are per channel or one for all, else ``p``."""
    if not isinstance(p, torch.Tensor) or (p.ndim == 1 and p.shape[0] == channels):
        return p
    if p.numel() == channels and sum(n != 1 for n in p.shape) <= 1:  # [1, C, 1], [C, 1], …
        return p.reshape(channels)
    if p.numel() == 1:
        return p.reshape(1).expand(channels)
    return p


def snake_fusable(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether the fused op can stand in for a Snake-like module on ``x [N, C, ...]``.

    Its parameters must be laid out for it: one value per channel or one for all, or a ``[k]``
    vector (BigVGAN's layout, whose length the op checks against the input, naming both). And a
    look-alike (recognised by its class name: another library's, or a subclass of ours with its
    own ``forward``) must compute Snake's formula: a float32 copy of it, its parameters set to
    random values (α and β apart, channels apart), is compared with the formula once, the first
    time the module is used eagerly; one that differs runs unfused (its own ``forward`` between
    the op's stages), with a warning. Under ``torch.compile`` or export, a module never checked
    is trusted by its name."""
    a, b = snake_params(module, x.shape[1])
    if not all(isinstance(p, torch.Tensor) and p.ndim == 1 for p in (a, b) if p is not None):
        return False
    if type(module).forward is _SnakeBase.forward:
        return True
    verdict = _FORMULA_CHECKED.get(module)
    if verdict is None:
        if torch.compiler.is_compiling() or a.is_meta:
            return True
        verdict = _FORMULA_CHECKED[module] = _computes_snake(module, x.shape[1], x.ndim)
    return verdict


# Look-alikes' verdicts (weak: a module's entry goes with it).
_FORMULA_CHECKED: weakref.WeakKeyDictionary[nn.Module, bool] = weakref.WeakKeyDictionary()


def _computes_snake(module: nn.Module, channels: int, ndim: int) -> bool:
    """Whether ``module`` computes Snake's or SnakeBeta's formula: a float32 copy of it with
    random parameters (in [0.5, 1.5) as stored: a log-scale one's α is then e^0.5 … e^1.5;
    the module itself, as it is, when it cannot be copied) on a probe spanning ±4,
    ``[b, C, s]`` (BigVGAN's layout), else ``[b, C, s, ...]`` with ``ndim`` dimensions (``b``
    and ``s`` neither 1 nor ``C``: no accidental broadcast). A ``forward`` that takes neither
    probe is trusted: the fused op is its evident meaning."""
    try:
        probe = copy.deepcopy(module).float()
    except Exception:  # (e.g. a non-leaf tensor attribute: checked as it is, in its dtype)
        probe = module
    else:
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in probe.parameters():
                if p.is_floating_point():
                    p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
    with torch.no_grad():
        a, b = snake_params(probe, channels)
        kind = "snake" if b is None else "snakebeta"
        batch, size = (2 if channels != 2 else 3), (5 if channels != 5 else 7)
        for shape in ((batch, channels, size), (batch, channels, *[size] * (ndim - 2))):
            z = torch.linspace(-4, 4, math.prod(shape), device=a.device, dtype=a.dtype)
            z = z.reshape(shape)
            view = (1, channels) + (1,) * (len(shape) - 2)
            want = PARAMETRIC_ACTIVATIONS[kind].fn(z, a.reshape(view),
                                                   None if b is None else b.reshape(view))
            try:
                got = probe.forward(z)  # (not probe(z): the user's hooks would see the probe)
            except Exception:  # (this probe's layout is not the module's: the next one)
                continue
            if isinstance(got, torch.Tensor) and got.shape == want.shape:
                break
        else:
            return True
    # (float32 but for an uncopyable module in half precision: its rounding, not a formula)
    tol = max(1e-4, 8 * torch.finfo(a.dtype).eps)
    if torch.allclose(got.to(want.dtype), want, rtol=tol, atol=tol / 10):
        return True
    warnings.warn(
        f"{type(module).__name__} is named like a {'Snake' if b is None else 'SnakeBeta'} but its "
        f"forward does not compute x + sin(alpha*x)^2/({'alpha' if b is None else 'beta'} + "
        f"eps) (checked with other parameter values): it runs unfused, between the filters",
        stacklevel=2,
    )
    return False


def tensor_dtype(x: object) -> torch.dtype:
    """The dtype to cast a module's filters to before the op (which then checks ``x`` in full,
    and makes the filters in the dtype it computes in): ``x``'s, but float32 for float16 and
    bfloat16, which the CPU kernels compute in float32 (taps rounded to bfloat16 first would
    lose their stopband; the other backends round them once, after the op's gain, where they
    rounded before and after it). A clear TypeError for a non-tensor rather than an
    AttributeError."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    return torch.float32 if x.dtype in HALF_DTYPES else x.dtype


# ------------------------------------------------------------------------------------------
# Filters


def _cutoff_and_width(ratio: int, cutoff: float | None,
                      half_width: float | None) -> tuple[int, float, float]:
    """The ratio, and the cutoff and half transition width (``0.5/ratio`` and ``0.6/ratio``
    unless given), in cycles per high-rate sample."""
    ratio = check_int("ratio", ratio, 1)
    cutoff = 0.5 / ratio if cutoff is None else check_real("cutoff", cutoff)
    half_width = 0.6 / ratio if half_width is None else check_real("half_width", half_width)
    return ratio, cutoff, half_width


def _in_module_terms(design: Callable[[], torch.Tensor], kernel_size: int, half_width: float,
                     given_width: float | None, what: str) -> torch.Tensor:
    """``design()``, its width error (the filter's terms: numtaps, width) said in the
    module's (kernel_size, half_width)."""
    try:
        return design()
    except ValueError as exc:
        m = re.match(r"width must be <= ([0-9.e+-]+) for numtaps", str(exc))
        if m is None:
            raise
        raise ValueError(
            f"half_width must be <= {float(m.group(1)) / 2:.4g} for kernel_size="
            f"{kernel_size} with {what} (Kaiser's beta would overflow), got "
            f"{half_width:g}" + (" (the default 0.6/ratio)" if given_width is None else "")
            + "; pass a smaller half_width or use filter='bigvgan'"
        ) from None


def design_filter(
    preset: str, ratio: int, kernel_size: int, cutoff: float | None, half_width: float | None
) -> torch.Tensor:
    """Low-pass ``[kernel_size]`` for a ratio-``ratio`` resampler (cutoff ``0.5/ratio`` and half
    transition width ``0.6/ratio`` unless given), in cycles per (high-rate) sample.

    ``'bigvgan'``: :func:`bandlimit.filters.kaiser_sinc_bigvgan` (BigVGAN / alias-free-torch
    taps). ``'scipy'``: :func:`bandlimit.filters.kaiser_sinc` (scipy's Kaiser estimate).
    """
    given_width = half_width
    ratio, cutoff, half_width = _cutoff_and_width(ratio, cutoff, half_width)
    if preset == "bigvgan":
        return kaiser_sinc_bigvgan(cutoff, half_width, kernel_size)
    if preset == "scipy":
        if cutoff >= 0.5:
            raise ValueError(
                f"filter='scipy' needs cutoff < 0.5 (Nyquist), got cutoff={cutoff!r}"
                + (" (the default 0.5/ratio for ratio 1); pass a cutoff or use filter='bigvgan'"
                   if ratio == 1 else "")
            )
        return _in_module_terms(lambda: kaiser_sinc(kernel_size, cutoff, 2 * half_width, 1.0),
                                kernel_size, half_width, given_width, "filter='scipy'")
    raise ValueError(f"filter must be 'bigvgan' or 'scipy', got {preset!r}")


def design_radial(
    preset: str, ratio: int, kernel_size: int, cutoff: float | None, half_width: float | None
) -> torch.Tensor:
    """Radial (jinc) low-pass ``[kernel_size, kernel_size]`` for a ratio-``ratio``
    down-sampler, cut off at the cutoff of :func:`design_filter` (``0.5/ratio`` unless given)
    under the 2-D Kaiser window of the ``preset``'s convention for ``half_width`` (``'scipy'``:
    :func:`bandlimit.filters.kaiser_jinc`; ``'bigvgan'``: the window of
    :func:`bandlimit.filters.kaiser_sinc_bigvgan`, so the radial filter has the separable one's
    transition band): StyleGAN3-R's down filter."""
    given_width = half_width
    ratio, cutoff, half_width = _cutoff_and_width(ratio, cutoff, half_width)
    if preset not in ("bigvgan", "scipy"):
        raise ValueError(f"filter must be 'bigvgan' or 'scipy', got {preset!r}")
    if cutoff >= 0.5:
        raise ValueError(
            f"radial=True needs a down-filter cutoff < 0.5 (Nyquist), got cutoff={cutoff!r}"
            + (" (the default 0.5/down for down=1); pass a cutoff, or down >= 2"
               if ratio == 1 else "")
        )
    if preset == "scipy":
        return _in_module_terms(lambda: kaiser_jinc(kernel_size, cutoff, 2 * half_width, 1.0),
                                kernel_size, half_width, given_width,
                                "radial=True, filter='scipy'")  # fmt: skip
    kernel_size = check_int("kernel_size", kernel_size, 1)
    window = bigvgan_window(kernel_size, half_width)
    return torch.from_numpy(windowed_jinc(kernel_size, cutoff, 1.0, window, "radial")).float()


def bigvgan_paddings(ratio: int, kernel_size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(padding, down_padding)`` that make the op equal alias-free-torch's resamplers.

    Up: ``(K − 1 − (K − r)//2, (K − r)//2)`` on the input extended at its own rate; down:
    ``(K//2 − 1, K//2)`` for even ``K`` (``K//2`` both sides for odd).
    """
    k, r = kernel_size, ratio
    return (k - 1 - (k - r) // 2, (k - r) // 2), (k // 2 - (1 - k % 2), k // 2)


def _ratios(up: object, down: object, ndim: int) -> tuple[tuple[int, int], tuple[bool, ...]]:
    """``((up, down), active)``: the resampling ratios, and per axis (torch's order) whether the
    axis is resampled. The 3-D module takes per-axis ratios ``(D, H, W)`` where every axis either
    has ``up = down = 1`` (left alone: no filter, no padding) or the common ``(up, down)``."""
    if ndim < 3 or not (isinstance(up, (tuple, list)) or isinstance(down, (tuple, list))):
        u, d = check_int("up", up, 1), check_int("down", down, 1)
        return (u, d), (True,) * ndim
    per_axis = []
    for name, v in (("up", up), ("down", down)):
        vs = tuple(v) if isinstance(v, (tuple, list)) else (v,) * 3
        if len(vs) != 3:
            raise ValueError(f"{name} must be an int or one int per axis (D, H, W), got {v!r}")
        per_axis.append(tuple(check_int(f"{name}[{i}]", e, 1) for i, e in enumerate(vs)))
    pairs = set(zip(*per_axis)) - {(1, 1)}
    if len(pairs) > 1:
        raise ValueError(
            f"up and down must be the same on every axis that is resampled (the others 1 and "
            f"1: left alone), got up={up!r}, down={down!r}: the axes share one pair of filters"
        )
    if not pairs:  # (1 and 1 everywhere: every axis filtered, as the int ratio 1 is)
        return (1, 1), (True,) * 3
    (ratios,) = pairs
    return ratios, tuple(p != (1, 1) for p in zip(*per_axis))


def _label(act: object) -> str:
    """A short name of an activation object: a module's class, a function's name."""
    if isinstance(act, nn.Module):
        return type(act).__name__
    return str(getattr(act, "__name__", type(act).__name__))


_SHAPE = {1: "[N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}
_ONE = {1: "one signal [C, L]", 2: "one image [C, H, W]", 3: "one volume [C, D, H, W]"}
_BATCH = {1: "[N, C, L] signals", 2: "[N, C, H, W] images", 3: "[N, C, D, H, W] volumes"}


# alias-free-torch's argument names (of its Activation1d/2d, UpSample1d ...) and ours.
_THEIR_NAMES = {"activation": "act", "ratio": "up and down", "up_ratio": "up",
                "down_ratio": "down", "up_kernel_size": "kernel_size",
                "down_kernel_size": "kernel_size"}  # fmt: skip


class _AliasFree(Module):
    ndim = 1
    _filter_buffers = ("fu", "fd")
    fu: torch.Tensor  # buffers, registered in __init__
    fd: torch.Tensor

    def __new__(cls, *args: Any, **kwargs: Any):
        # (Python's own message would name this private base class's __init__)
        # (the first __init__ up the classes that names its arguments: a subclass may pass
        # **kwargs on to its base)
        for klass in cls.__mro__:
            known = inspect.signature(klass.__init__).parameters  # type: ignore[misc]
            if not any(p.kind is p.VAR_KEYWORD for p in known.values()):
                break
        for name in kwargs:
            if name not in known:
                hint = "" if name not in _THEIR_NAMES else (
                    f"; it takes {_THEIR_NAMES[name]} (alias-free-torch's {name!r}"
                    + (f": for its signature use bandlimit.nn.bigvgan.Activation{cls.ndim}d)"
                       if cls.ndim < 3 else ")"))
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument "
                                f"{name!r}{hint}")
        return super().__new__(cls)

    def __init__(
        self,
        act: str | nn.Module | Callable[[torch.Tensor], torch.Tensor],
        up: int = 2,
        down: int = 2,
        kernel_size: int = 12,
        cutoff: float | None = None,
        half_width: float | None = None,
        filter: str = "bigvgan",
        padding_mode: str = "replicate",
        gain: float | None = None,
        alpha: float | None = None,
        *,
        radial: bool = False,
        impl: str = "auto",
    ):
        super().__init__()
        self.radial = check_bool("radial", radial)
        if radial and self.ndim != 2:
            raise ValueError(f"radial=True is a 2-D down filter (AliasFreeActivation2d), not one "
                             f"of {type(self).__name__}")  # fmt: skip
        self.impl = _check_impl(impl)
        if not isinstance(act, (str, nn.Module)) and not callable(act):
            raise TypeError(
                f"act must be an activation name, an nn.Module or an element-wise callable, got "
                f"{type(act).__name__} {act!r}"
            )
        spec = resolve_activation(act) if isinstance(act, (str, nn.Module)) else None
        # None: an activation the kernels have no form of, run unfused between the op's stages
        self.act_name: str | None
        self.act_name, mod_alpha, _, mod_gain, _ = spec or (None, None, None, 1.0, None)
        self.act = None if isinstance(act, str) else act
        if alpha is not None and isinstance(act, nn.LeakyReLU):
            raise ValueError(
                f"alpha is the leaky ReLU's slope, which act={act!r} already sets "
                f"(negative_slope={act.negative_slope!r}); set it on the module, or pass "
                f"act='lrelu' with alpha={alpha!r}"
            )
        if alpha is not None and self.act_name != "lrelu":
            raise ValueError(
                f"alpha is the leaky ReLU's slope; act {self.act_name or _label(act)!r} takes "
                f"none, got "
                f"alpha={alpha!r}" + (" (Snake's alpha is its module's parameter)"
                                      if self.act_name in ("snake", "snakebeta") else "")
            )
        self.alpha = mod_alpha if alpha is None else check_real("alpha", alpha)
        self.gain = mod_gain if gain is None else check_real("gain", gain, nonnegative=True)
        if self.act_name in ("snake", "snakebeta") and self.act is None:
            raise ValueError(
                f"act={act!r} needs trainable alpha (and beta) tensors: pass a module, e.g. "
                f"bandlimit.nn.{'Snake' if act == 'snake' else 'SnakeBeta'}(channels)"
            )
        self.up, self.down = up, down  # (as given: ints, or per axis for the 3-D module)
        # the common ratios, and per axis (torch's order) whether it is resampled at all
        self._ratios, self._active = _ratios(up, down, self.ndim)
        self.kernel_size = check_int("kernel_size", kernel_size, 1)
        self.padding_mode = check_padding_mode(padding_mode)  # here, not first in forward
        self.filter, self.cutoff, self.half_width = filter, cutoff, half_width  # (for repr)
        fu = design_filter(filter, self._ratios[0], self.kernel_size, cutoff, half_width)
        fd = (design_radial if radial else design_filter)(filter, self._ratios[1],
                                                          self.kernel_size, cutoff, half_width)
        self.register_design("fu", fu)
        self.register_design("fd", fd)

    def _scalar_act(self) -> tuple[Any, Any]:
        """``(act, alpha)`` of a non-Snake activation, a module's settings read now (a slope
        changed after construction counts, as in BigVGAN's blocks): an op name and its slope, or
        the callable itself (no fused form, or no longer one) and None."""
        if isinstance(self.act, nn.Module) and self.act_name not in ("snake", "snakebeta"):
            spec = resolve_activation(self.act)
            return (spec[0], spec[1]) if spec is not None else (self.act, None)
        return (self.act_name, self.alpha) if self.act_name is not None else (self.act, None)

    def _act_kwargs(self, x: torch.Tensor) -> dict[str, Any]:
        """The op's ``act``, ``alpha``, ``beta``, ``gain`` for ``x``."""
        if self.act_name in ("snake", "snakebeta"):
            assert isinstance(self.act, nn.Module)  # (__init__ requires one for snake)
            if not snake_fusable(self.act, x):  # (no per-channel layout, or another formula)
                return dict(act=self.act, gain=self.gain)
            a, b = snake_params(self.act, x.shape[1])
            return dict(act=self.act_name, alpha=a, beta=b, gain=self.gain)
        name, alpha = self._scalar_act()
        return dict(act=name, alpha=alpha, gain=self.gain)

    @property
    def output_rate(self) -> float | tuple[float, ...]:
        """Output samples per input sample, ``up / down`` (what
        :func:`~bandlimit.testing.assert_translation_equivariant` shifts the output by); per
        axis, x first, for the 3-D module's per-axis ratios."""
        rate = self._ratios[0] / self._ratios[1]
        if all(self._active):
            return rate
        return tuple(rate if a else 1.0 for a in reversed(self._active))  # (x first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and x.ndim != self.ndim + 2:
            hint = ""
            if x.ndim == self.ndim + 1:  # (one signal, image or volume without its batch axis)
                hint = f"; for {_ONE[self.ndim]} add the batch axis (x[None])"
            if x.ndim - 2 in _BATCH and x.ndim - 2 != self.ndim:
                hint += f"; for {_BATCH[x.ndim - 2]} use AliasFreeActivation{x.ndim - 2}d"
            raise ValueError(
                f"{type(self).__name__} takes {_SHAPE[self.ndim]}, got shape {tuple(x.shape)}"
                f"{hint}"
            )
        pu, _ = bigvgan_paddings(self._ratios[0], self.kernel_size)
        _, pd = bigvgan_paddings(self._ratios[1], self.kernel_size)
        kwargs = self._op_kwargs(x)
        if self.ndim == 1:
            return filtered_act1d(x, padding=pu, down_padding=pd, **kwargs)
        if self.ndim == 2:
            return filtered_act(x, padding=pu * 2, down_padding=pd * 2, **kwargs)
        # per axis, x first: an axis with up = down = 1 gets no filter and no padding
        active = tuple(reversed(self._active))
        for name in ("fu", "fd"):
            kwargs[name] = tuple(kwargs[name] if a else None for a in active)
        for name in ("up", "down"):
            kwargs[name] = tuple(kwargs[name] if a else 1 for a in active)
        return filtered_act3d(
            x, padding=sum((pu if a else (0, 0) for a in active), ()),
            down_padding=sum((pd if a else (0, 0) for a in active), ()), **kwargs,
        )

    def _op_kwargs(self, x: torch.Tensor) -> dict[str, Any]:
        """The op's arguments for ``x`` other than the paddings."""
        return dict(fu=self.fu.to(tensor_dtype(x)), fd=self.fd.to(tensor_dtype(x)),
                    up=self._ratios[0], down=self._ratios[1], padding_mode=self.padding_mode,
                    impl=self.impl, **self._act_kwargs(x))  # fmt: skip

    def extra_repr(self) -> str:
        # Everything that changes the output: the gain always (a name's default is √2 for
        # relu/lrelu/swish/silu, a module's 1), the slope and filter settings when given.
        name, alpha = self._scalar_act()
        entry = FILTERED_ACTIVATIONS.get(name) if isinstance(name, str) else None
        gain = self.gain if self.gain is not None else getattr(entry, "default_gain", 1.0)
        label = repr(name) if isinstance(name, str) else f"{_label(name)} (unfused)"
        parts = [f"act={label}", f"up={self.up}", f"down={self.down}",
                 f"kernel_size={self.kernel_size}", f"gain={gain:.6g}"]
        if name == "lrelu":
            slope = alpha if alpha is not None else getattr(entry, "default_alpha", 0.0)
            parts.append(f"alpha={slope:.6g}")
        parts.append(f"padding_mode={self.padding_mode!r}")
        if self.filter != "bigvgan":
            parts.append(f"filter={self.filter!r}")
        parts += [f"{n}={v:.6g}" for n, v in (("cutoff", self.cutoff),
                                                 ("half_width", self.half_width)) if v is not None]
        if getattr(self, "radial", False):  # (absent from a module pickled before it existed)
            parts.append("radial=True")
        if self.impl != "auto":
            parts.append(f"impl={self.impl!r}")
        return ", ".join(parts)


class AliasFreeActivation1d(_AliasFree):
    """Alias-free activation of ``[N, C, L]`` signals: up-sample → act → down-sample, fused.

    Mind the gain: an activation given by name uses the op's default gain, √2 for ``'relu'``,
    ``'lrelu'`` and ``'silu'``/``'swish'`` (StyleGAN's convention; 1 for the other names), but
    given as a module it uses gain 1, as the module computes: ``AliasFreeActivation1d('silu')``
    is √2 × ``AliasFreeActivation1d(nn.SiLU())``. Pass ``gain`` to choose.

    One call of :func:`bandlimit.ops.filtered_act1d`: the input is up-sampled by ``up`` with the
    low-pass ``fu``, activated at the high rate, low-passed with ``fd`` and down-sampled by
    ``down``, both stages extending the signal with ``padding_mode`` and padded as BigVGAN's
    resamplers, so ``[N, C, L]`` gives ``[N, C, ceil(L·up/down)]`` (``L`` for the default
    ``up = down = 2``). The output has the input's dtype and device; dtypes, devices, gradients
    (to ``x`` and to a Snake's parameters), ``torch.compile`` and ``torch.export`` are as for
    :func:`bandlimit.ops.filtered_act1d` (float16/bfloat16 inputs run the filters in float32).

    Parameters
    ----------
    act : str, nn.Module or callable
        Fused: an op activation name (``'linear'``, ``'relu'``, ``'lrelu'``, ``'gelu'``,
        ``'gelu_tanh'``, ``'silu'``/``'swish'``, ``'tanh'``, ``'sigmoid'``, ``'elu'``,
        ``'selu'``, ``'softplus'``; ``'snake'``/``'snakebeta'`` need ``alpha`` tensors: pass a
        module), or a :class:`Snake`/:class:`SnakeBeta` (its parameters are used and trained),
        or a standard torch activation module: ``nn.LeakyReLU``, ``nn.ReLU``, ``nn.GELU``
        (exact or tanh), ``nn.SiLU``, ``nn.Tanh``, ``nn.Sigmoid``, ``nn.ELU(alpha=1)``,
        ``nn.CELU(alpha=1)``, ``nn.SELU``, ``nn.Softplus(beta=1, threshold=20)`` or
        ``nn.Identity`` (the exact classes). A fused module's settings are read at each call (a
        slope changed later counts); its own ``forward`` is not called (the op computes the
        activation), so hooks registered on it do not fire: hook this module instead. Any other
        module or function (``nn.Mish()``, ``nn.ELU(alpha=0.5)``, a subclass, a lambda) runs
        unfused: the op's up-sampling stage, the callable, the op's down-sampling stage (see
        :func:`bandlimit.ops.filtered_act`, Notes).
    up, down : int, default 2
        Up- and down-sampling ratios (output length ``ceil(L·up/down)``).
    kernel_size : int, default 12
        Taps of both filters.
    cutoff, half_width : float or None, default None
        Cutoff and half transition width of the filters, in cycles per up-sampled sample; one
        value for both filters when given. None: ``0.5/up`` and ``0.6/up`` for ``fu``,
        ``0.5/down`` and ``0.6/down`` for ``fd`` (BigVGAN's).
    filter : {'bigvgan', 'scipy'}, default 'bigvgan'
        Kaiser-window design convention: ``'bigvgan'`` gives BigVGAN's / alias-free-torch's
        taps (:func:`bandlimit.filters.kaiser_sinc_bigvgan`), ``'scipy'`` scipy's Kaiser
        estimate (:func:`bandlimit.filters.kaiser_sinc`; it needs ``cutoff < 0.5``, so pass a
        cutoff when a ratio is 1).
    padding_mode : {'replicate', 'zeros', 'circular'}, default 'replicate'
        Edge handling of both stages; ``'replicate'`` is BigVGAN's.
    gain : float or None, default None
        Output gain, ≥ 0. None: 1 for a module, the op's default for a name (see above).
    alpha : float or None, default None
        The leaky ReLU's negative slope (``'lrelu'`` only; None: 0.2 for the name, the module's
        ``negative_slope`` for an ``nn.LeakyReLU``). Snake's α is its module's parameter.
    radial : bool, default False (keyword-only)
        :class:`AliasFreeActivation2d`'s radial down filter; only False here.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto' (keyword-only)
        Backend of the op (see :func:`bandlimit.ops.set_default_impl`); ``'ref'`` for a model
        that ``torch.export`` should hold as standard ATen operators.

    Attributes
    ----------
    fu, fd : Tensor ``[kernel_size]``
        The up- and down-sampling filters, float32 buffers (state-dict keys ``fu``, ``fd``),
        cast to the input's dtype in ``forward``.
    act : torch.nn.Module or None
        The activation module (None for a name); a Snake's parameters appear in the state dict
        as ``act.alpha`` (and ``act.beta``), and are this module's only parameters.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import AliasFreeActivation1d, SnakeBeta
    >>> act = AliasFreeActivation1d(SnakeBeta(32))
    >>> act(torch.randn(1, 32, 256)).shape
    torch.Size([1, 32, 256])
    >>> sorted(act.state_dict())
    ['act.alpha', 'act.beta', 'fd', 'fu']

    Rational rates, and the gain of a name against that of a module:

    >>> AliasFreeActivation1d("gelu", up=3, down=2)(torch.randn(1, 4, 100)).shape
    torch.Size([1, 4, 150])
    >>> x = torch.linspace(-3, 3, 128).reshape(1, 2, 64)
    >>> by_name = AliasFreeActivation1d("silu")
    >>> by_module = AliasFreeActivation1d(torch.nn.SiLU())
    >>> torch.allclose(by_name(x), 2**0.5 * by_module(x))
    True
    """

    ndim = 1

    def stream(self) -> FilteredAct1dStream:
        """This activation on a signal that arrives in chunks: a
        :class:`~bandlimit.ops.FilteredAct1dStream` whose concatenated outputs (after its
        ``flush()``) equal this module on the whole signal. The module's current settings and
        parameters (a Snake's α) are read at every chunk; ``padding_mode='circular'`` cannot
        stream.

        >>> import torch
        >>> from bandlimit.nn import AliasFreeActivation1d, Snake
        >>> act = AliasFreeActivation1d(Snake(2))
        >>> x = torch.randn(1, 2, 300)
        >>> stream = act.stream()
        >>> y = torch.cat([stream(c) for c in x.split(64, dim=2)] + [stream.flush()], dim=2)
        >>> torch.allclose(y, act(x), atol=1e-6)
        True
        """
        (up, down) = self._ratios
        pu, _ = bigvgan_paddings(up, self.kernel_size)
        _, pd = bigvgan_paddings(down, self.kernel_size)
        return FilteredAct1dStream._of(self._op_kwargs, (self.kernel_size, self.kernel_size),
                                       up, down, pu, pd, self.padding_mode)  # fmt: skip


class AliasFreeActivation2d(_AliasFree):
    """Alias-free activation of ``[N, C, H, W]`` images: up-sample → act → down-sample, fused.

    Mind the gain (as in :class:`AliasFreeActivation1d`): ``'relu'``, ``'lrelu'`` and
    ``'silu'``/``'swish'`` given by name use the op's gain √2 (the other names 1), the same
    activation given as a module gain 1: ``AliasFreeActivation2d('silu')`` is
    √2 × ``AliasFreeActivation2d(nn.SiLU())``. Pass ``gain`` to choose.

    One call of :func:`bandlimit.ops.filtered_act` with the separable filters of
    :class:`AliasFreeActivation1d` applied along both axes (the same paddings on both; with
    ``radial``, a 2-D jinc down filter), so ``[N, C, H, W]`` gives
    ``[N, C, ceil(H·up/down), ceil(W·up/down)]``, in the input's dtype and on its device.
    (:class:`bandlimit.nn.bigvgan.Activation2d` uses alias-free-torch's 2-D filters instead, a
    radial sinc.)

    Parameters
    ----------
    act : str or nn.Module
        As in :class:`AliasFreeActivation1d`.
    up, down : int, default 2
        Ratios, the same along both axes.
    kernel_size : int, default 12
        Taps of both filters (per axis for a radial one).
    cutoff, half_width : float or None, default None
        In cycles per up-sampled sample; as in :class:`AliasFreeActivation1d`.
    filter : {'bigvgan', 'scipy'}, default 'bigvgan'
        Filter design, as in :class:`AliasFreeActivation1d`.
    padding_mode : {'replicate', 'zeros', 'circular'}, default 'replicate'
        Edge handling of both stages, along both axes.
    gain, alpha : float or None, default None
        Output gain and leaky ReLU slope, as in :class:`AliasFreeActivation1d`.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto' (keyword-only)
        Backend of the op, as in :class:`AliasFreeActivation1d`.

    radial : bool, default False (keyword-only)
        Down-sample with a radially symmetric (jinc) low-pass ``[kernel_size, kernel_size]``,
        as StyleGAN3-R does: the separable filter passes diagonal frequencies up to √2 times
        the cutoff, which a rotation turns into aliases; the disc-shaped pass band treats
        every orientation alike. Cut off at the same ``cutoff`` (``0.5/down`` by default),
        under the 2-D Kaiser window of the ``filter`` convention for ``half_width``
        (``'scipy'``: :func:`bandlimit.filters.kaiser_jinc`; ``'bigvgan'``: BigVGAN's window,
        so the transition band is the separable filter's). Costs ``kernel_size/(down + 1)``
        times the separable down-sampling's multiply-adds (4x for 12 taps at ``down = 2``);
        needs a cutoff < 0.5 (``down >= 2``, or a ``cutoff``). Rotation equivariance
        (:func:`bandlimit.testing.assert_rotation_equivariant`) improves on average, per
        image it varies: over 6 images and 2 angles +1.8 dB for ReLU against the separable
        filter of the same ``filter='scipy'`` design (most of it the disc's smaller pass band:
        against a separable filter of equal pass-band area, +0.1 dB for ReLU and +0.4 to
        +0.8 dB for GELU and SiLU, measured over 10 images and 3 angles).

    Attributes
    ----------
    fu, fd : Tensor ``[kernel_size]``
        The separable filters, float32 buffers (state-dict keys ``fu``, ``fd``); with
        ``radial``, ``fd`` is ``[kernel_size, kernel_size]``.
    act : torch.nn.Module or None
        The activation module (None for a name).

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import AliasFreeActivation2d
    >>> act = AliasFreeActivation2d(torch.nn.LeakyReLU(0.2))
    >>> act(torch.randn(2, 8, 15, 16)).shape
    torch.Size([2, 8, 15, 16])
    >>> sorted(act.state_dict())
    ['fd', 'fu']

    StyleGAN3-R's radial down filter:

    >>> radial = AliasFreeActivation2d("gelu", radial=True)
    >>> radial.fd.shape, radial(torch.randn(2, 8, 15, 16)).shape
    (torch.Size([12, 12]), torch.Size([2, 8, 15, 16]))
    """

    ndim = 2


class AliasFreeActivation3d(_AliasFree):
    """Alias-free activation of ``[N, C, D, H, W]`` volumes (video, 3-D scans, voxel features):
    up-sample → act → down-sample along all three axes.

    :class:`AliasFreeActivation2d` with a depth axis: one call of
    :func:`bandlimit.ops.filtered_act3d` with the separable filters of
    :class:`AliasFreeActivation1d` along D, H and W (the same paddings on each), so
    ``[N, C, D, H, W]`` gives ``[N, C, ceil(D·up/down), ceil(H·up/down), ceil(W·up/down)]`` in
    the input's dtype and on its device. The H/W stages and the activation run fused per depth
    slice; the memory held for autograd is about ``up`` times the input's on the numba and
    'ref' backends with a named activation (see :func:`bandlimit.ops.filtered_act3d`, Notes,
    for the others).
    Per-axis ratios in torch's ``(D, H, W)`` order resample some axes and leave the others
    alone: ``up=(1, 2, 2), down=(1, 2, 2)`` is :class:`AliasFreeActivation2d` on every frame
    of a video (exactly), the depth neither filtered nor padded. Mind the gain, as in
    :class:`AliasFreeActivation1d`: ``'silu'`` by name is √2 × ``nn.SiLU()``.

    Parameters
    ----------
    act : str, nn.Module or callable
        As in :class:`AliasFreeActivation1d`; an unfused module or function gets the up-sampled
        ``[N, C, D_u, H_u, W_u]`` volume.
    up, down : int or ``(D, H, W)``, default 2
        Ratios, the same along all three axes; or per axis (torch's order, as a blur-pool's
        ``stride``), each axis either ``up = down = 1`` (left alone) or the common pair
        (``up=(1, 2, 2), down=(1, 2, 2)``: H and W only).
    kernel_size : int, default 12
        Taps of both filters.
    cutoff, half_width : float or None, default None
        In cycles per up-sampled sample; as in :class:`AliasFreeActivation1d`.
    filter : {'bigvgan', 'scipy'}, default 'bigvgan'
        Filter design, as in :class:`AliasFreeActivation1d`.
    padding_mode : {'replicate', 'zeros', 'circular'}, default 'replicate'
        Edge handling of both stages, along every axis.
    gain, alpha : float or None, default None
        Output gain and leaky ReLU slope, as in :class:`AliasFreeActivation1d`.
    radial : bool, default False (keyword-only)
        :class:`AliasFreeActivation2d`'s radial down filter; only False here.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto' (keyword-only)
        Backend of the op, as in :class:`AliasFreeActivation1d`.

    Attributes
    ----------
    fu, fd : Tensor ``[kernel_size]``
        The separable filters, float32 buffers (state-dict keys ``fu``, ``fd``).
    act : torch.nn.Module or None
        The activation module (None for a name).

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn import AliasFreeActivation3d, Snake
    >>> act = AliasFreeActivation3d(Snake(8))
    >>> act(torch.randn(1, 8, 5, 12, 12)).shape
    torch.Size([1, 8, 5, 12, 12])
    >>> AliasFreeActivation3d("gelu", up=3, down=2)(torch.randn(1, 2, 4, 6, 6)).shape
    torch.Size([1, 2, 6, 9, 9])
    >>> frames = AliasFreeActivation3d("gelu", up=(1, 3, 3), down=(1, 2, 2))
    >>> frames(torch.randn(1, 2, 4, 6, 6)).shape, frames.output_rate   # rate: x first
    (torch.Size([1, 2, 4, 9, 9]), (1.5, 1.5, 1.0))
    """

    ndim = 3
