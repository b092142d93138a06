"""Filter design for band-limited signals: what a signal is allowed to contain.

- :mod:`~bandlimit.filters.kaiser` — Kaiser-windowed sinc (separable) and jinc (radial) low-pass
  filters, scipy-exact, plus the BigVGAN compatibility preset.
- :mod:`~bandlimit.filters.resample` — the low-pass of rational-rate resampling (scipy's
  ``resample_poly`` design).
- :mod:`~bandlimit.filters.response` — frequency responses, passband ripple, stopband attenuation.
- :mod:`~bandlimit.filters.schedule` — cutoff, stopband and sampling-rate schedules.
- :mod:`~bandlimit.filters.plot` — matplotlib figures (matplotlib is imported only when called).
"""

from bandlimit.filters.kaiser import (
    kaiser_atten,
    kaiser_beta,
    kaiser_jinc,
    kaiser_sinc,
    kaiser_sinc_bigvgan,
    lowpass,
)
from bandlimit.filters.plot import plot_frequency_response, plot_schedule
from bandlimit.filters.resample import resample_filter
from bandlimit.filters.response import (
    frequency_response,
    magnitude_db,
    passband_ripple,
    stopband_attenuation,
)
from bandlimit.filters.schedule import (
    GeometricSchedule,
    Schedule,
    SynthesisInputSpec,
    SynthesisLayerSpec,
    geometric_schedule,
    stylegan3_schedule,
)

__all__ = [
    "GeometricSchedule",
    "Schedule",
    "SynthesisInputSpec",
    "SynthesisLayerSpec",
    "frequency_response",
    "geometric_schedule",
    "kaiser_atten",
    "kaiser_beta",
    "kaiser_jinc",
    "kaiser_sinc",
    "kaiser_sinc_bigvgan",
    "lowpass",
    "magnitude_db",
    "passband_ripple",
    "plot_frequency_response",
    "plot_schedule",
    "resample_filter",
    "stopband_attenuation",
    "stylegan3_schedule",
]
