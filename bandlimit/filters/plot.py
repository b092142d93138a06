"""Matplotlib figures for filters and cutoff schedules.

matplotlib is an optional dependency (``pip install '.[plot]'`` in the repository). It is
imported inside the functions, so importing this module never imports matplotlib, and no backend
is selected here: matplotlib's own default applies (set ``MPLBACKEND=Agg`` for headless use).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bandlimit.filters.kaiser import _check_positive, _check_real
from bandlimit.filters.response import _as_filter, frequency_response

__all__ = ["plot_frequency_response", "plot_schedule"]

# Lowest level shown on dB plots: deep enough for float32 filters (~-140 dB round-off) while
# keeping the -300 dB floor of magnitude_db off the axis.
_DB_BOTTOM = -160.0


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "bandlimit.filters.plot needs matplotlib; install it with "
            "`pip install '.[plot]'` in the repository (or `pip install matplotlib`)"
        ) from err
    return plt


def _axes(ax: Any) -> Any:
    if ax is None:
        _, ax = _pyplot().subplots()
        return ax
    _pyplot()  # consistent error when matplotlib is missing, even with a foreign ax
    if not hasattr(ax, "plot") or not hasattr(ax, "figure"):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def _optional_freq(name: str, value: Any, fs: float) -> float | None:
    if value is None:
        return None
    out = _check_real(name, value)
    if not 0 < out <= fs / 2:
        raise ValueError(f"{name} must be None or in (0, fs/2 = {fs / 2!r}], got {value!r}")
    return out


def plot_frequency_response(
    f: Any,
    fs: float = 1.0,
    *,
    ax: Any = None,
    cutoff: float | None = None,
    stopband: float | None = None,
    title: str | None = None,
    label: str | None = None,
) -> Any:
    r"""Plot the magnitude response of a 1-D or 2-D filter in dB.

    1-D: :math:`20\log_{10}|H(f)|` over :math:`0 \dots f_s/2`, with dashed vertical lines at
    ``cutoff`` and ``stopband`` and a dotted line at −6 dB. 2-D: an image of
    :math:`20\log_{10}|H(f_y, f_x)|` over :math:`[-f_s/2, f_s/2)^2` with circles of radius
    ``cutoff`` (solid) and ``stopband`` (dashed). The axis is clipped at −160 dB.

    matplotlib is imported when this is called (``ImportError`` if it is not installed); no
    backend is selected (set ``MPLBACKEND=Agg`` or call ``matplotlib.use("Agg")`` for
    headless use).

    Parameters
    ----------
    f : torch.Tensor or numpy.ndarray
        Real taps, ``[taps]`` or ``[taps_y, taps_x]`` (indexed ``[y, x]``).
    fs : float
        Sampling rate (> 0, default 1: cycles per sample); the frequency axes use its unit.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Axes to draw into; a new figure is created when omitted.
    cutoff : float, optional, keyword-only
        Frequency to mark (e.g. the design's cutoff), in ``(0, fs/2]``.
    stopband : float, optional, keyword-only
        Frequency to mark (e.g. the stop-band edge ``cutoff + width/2``), in ``(0, fs/2]``.
    title : str, optional, keyword-only
        Axes title.
    label : str, optional, keyword-only
        Legend label of a 1-D response (default ``'|H| (dB)'``): name each filter when several
        are drawn into one ``ax`` to compare them (the −6 dB line is drawn once). A 2-D response
        drawn again into the same ``ax`` replaces the image and reuses its colour bar.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into (its figure is ``ax.figure``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from bandlimit.filters import kaiser_sinc, plot_frequency_response
    >>> h = kaiser_sinc(12, cutoff=0.25, width=0.2, fs=1.0)
    >>> ax = plot_frequency_response(h, cutoff=0.25, stopband=0.35, title="12 taps")
    >>> ax.get_xlabel(), tuple(float(v) for v in ax.get_xlim())
    ('frequency', (0.0, 0.5))
    >>> ax.figure.savefig("response.png")     # doctest: +SKIP
    >>> plt.close(ax.figure)
    """
    arr = _as_filter(f)
    fs = _check_positive("fs", fs)
    cutoff = _optional_freq("cutoff", cutoff, fs)
    stopband = _optional_freq("stopband", stopband, fs)
    for name, text in (("title", title), ("label", label)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{name} must be a str or None, got {type(text).__name__}")
    ax = _axes(ax)
    freqs, h_db = frequency_response(arr, fs, db=True)
    if arr.ndim == 1:
        curves = sum(1 for line in ax.get_lines() if getattr(line, "_bandlimit_response", False))
        (line,) = ax.plot(freqs, h_db, color=f"C{curves}" if curves else "C0",
                          label="|H| (dB)" if label is None else label)  # fmt: skip
        line._bandlimit_response = True  # (counted by a later call into the same axes)
        if not curves:
            ax.axhline(20 * np.log10(0.5), color="0.5", linestyle=":", linewidth=0.8,
                       label="-6 dB")  # fmt: skip
        if cutoff is not None:
            ax.axvline(cutoff, color="C1", linestyle="--", label=f"cutoff {cutoff:g}")
        if stopband is not None:
            ax.axvline(stopband, color="C3", linestyle="--", label=f"stopband {stopband:g}")
        ax.set_xlim(0, fs / 2)
        drawn = [np.asarray(line.get_ydata()) for line in ax.get_lines()
                 if getattr(line, "_bandlimit_response", False)]  # (every filter drawn here)
        low, high = min(float(y.min()) for y in drawn), max(float(y.max()) for y in drawn)
        ax.set_ylim(max(_DB_BOTTOM, low - 5), max(5.0, high + 5))
        ax.set_xlabel("frequency")
        ax.set_ylabel("magnitude (dB)")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower left", fontsize="small")
    else:
        from matplotlib.patches import Circle

        fy, fx = freqs
        step = fs / fx.size
        extent = (fx[0] - step / 2, fx[-1] + step / 2, fy[0] - step / 2, fy[-1] + step / 2)
        im = ax.imshow(
            np.maximum(h_db, _DB_BOTTOM),
            origin="lower",
            extent=extent,
            cmap="viridis",
            interpolation="nearest",
        )
        bar = getattr(ax, "_bandlimit_colorbar", None)
        if bar is None:
            ax._bandlimit_colorbar = ax.figure.colorbar(im, ax=ax, label="magnitude (dB)")
        else:  # drawn again into these axes: the new image replaces the old, one colour bar
            for old in [*ax.images[:-1], *ax.patches]:  # (and the old filter's circles)
                old.remove()
            bar.update_normal(im)
        for radius, style, name in ((cutoff, "-", "cutoff"), (stopband, "--", "stopband")):
            if radius is not None:
                ax.add_patch(
                    Circle((0, 0), radius, fill=False, color="w", linestyle=style, label=name)
                )
        ax.set_xlabel("$f_x$")
        ax.set_ylabel("$f_y$")
        ax.set_aspect("equal")
    if title is not None:
        ax.set_title(title)
    return ax


def _attr(obj: Any, name: str, where: str) -> Any:
    if not hasattr(obj, name):
        raise TypeError(f"schedule{where} must have an attribute {name!r} ({type(obj).__name__})")
    return getattr(obj, name)


def plot_schedule(schedule: Any, *, ax: Any = None) -> Any:
    r"""Plot a cutoff schedule like Fig. 4b of the Alias-Free GAN paper (log2 frequency axis).

    For the input (Fourier features) and every layer, plots the cutoff :math:`f_c`, the actual
    stop-band edge :math:`f_c + f_h` (layers only; at least the stop-band target :math:`f_t`),
    the sampling rate :math:`s` and the Nyquist frequency :math:`s/2`, all in cycles per canvas
    unit, on a base-2 logarithmic axis with one tick per layer. matplotlib is imported when this
    is called; no backend is selected.

    Parameters
    ----------
    schedule : Schedule
        Any object with ``schedule.input.bandwidth``, ``schedule.input.sampling_rate`` and
        ``schedule.layers``, a non-empty sequence of records with ``.name``, ``.out_cutoff``,
        ``.out_half_width`` and ``.out_sampling_rate`` (e.g. the result of
        :func:`stylegan3_schedule`); every frequency must be finite and > 0.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Axes to draw into; a new figure is created when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into (its figure is ``ax.figure``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from bandlimit.filters import plot_schedule, stylegan3_schedule
    >>> ax = plot_schedule(stylegan3_schedule(256))
    >>> len(ax.get_xticklabels()), ax.get_yscale()     # the input and 15 layers
    (16, 'log')
    >>> plt.close(ax.figure)
    """
    inp = _attr(schedule, "input", "")
    layers = list(_attr(schedule, "layers", ""))
    if not layers:
        raise ValueError("schedule.layers must contain at least one layer, got none")
    names = ["input"]
    cut = [_check_positive("schedule.input.bandwidth", _attr(inp, "bandwidth", ".input"))]
    stop = [np.nan]  # the Fourier input has no transition band
    rate = [_check_positive("schedule.input.sampling_rate", _attr(inp, "sampling_rate", ".input"))]
    for i, layer in enumerate(layers):
        where = f".layers[{i}]"
        names.append(str(_attr(layer, "name", where)))
        fc = _check_positive(f"schedule{where}.out_cutoff", _attr(layer, "out_cutoff", where))
        fh = _check_positive(
            f"schedule{where}.out_half_width", _attr(layer, "out_half_width", where)
        )
        cut.append(fc)
        stop.append(fc + fh)
        rate.append(
            _check_positive(
                f"schedule{where}.out_sampling_rate", _attr(layer, "out_sampling_rate", where)
            )
        )
    ax = _axes(ax)
    x = np.arange(len(names))
    rate_arr = np.asarray(rate)
    ax.plot(x, rate_arr, "s-", color="0.3", label="sampling rate $s$")
    ax.plot(x, rate_arr / 2, "--", color="0.6", label="Nyquist $s/2$", zorder=3)
    ax.plot(x, stop, "^-", color="C3", label="stopband $f_c + f_h$")
    ax.plot(x, cut, "o-", color="C0", label="cutoff $f_c$")
    ax.set_yscale("log", base=2)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize="small")
    ax.set_ylabel("frequency (log$_2$)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return ax
