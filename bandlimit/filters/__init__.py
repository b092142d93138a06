"""Filter design for band-limited signals: what a signal is allowed to contain.

- Kaiser-windowed sinc (separable) and jinc (radial) low-pass filters, scipy-exact:
  :func:`lowpass`, :func:`kaiser_sinc`, :func:`kaiser_jinc`, :func:`kaiser_beta`,
  :func:`kaiser_atten`, :func:`kaiser_order` (taps for an attenuation), and the BigVGAN
  compatibility preset :func:`kaiser_sinc_bigvgan`.
- High-pass, band-pass, band-stop and multi-band designs, scipy-exact:
  :func:`kaiser_highpass`, :func:`kaiser_bandpass`, :func:`kaiser_bandstop`,
  :func:`kaiser_multiband`; the radial 2-D high-pass, the complement of :func:`kaiser_jinc`:
  :func:`kaiser_jinc_highpass`.
- Pseudo-QMF filter banks (multi-band vocoders): :func:`pqmf_filters`, :func:`pqmf_cutoff`.
- The low-pass of rational-rate resampling (scipy's ``resample_poly`` design):
  :func:`resample_filter`.
- Frequency responses, passband ripple, stopband attenuation: :func:`frequency_response`,
  :func:`magnitude_db`, :func:`passband_ripple`, :func:`stopband_attenuation`, and the gain
  range over any band, :func:`band_gain` (high-/band-pass designs).
- Cutoff, stopband and sampling-rate schedules: :func:`geometric_schedule`,
  :func:`stylegan3_schedule` (:class:`Schedule`).
- matplotlib figures (matplotlib is imported only when called): :func:`plot_frequency_response`,
  :func:`plot_schedule`.
"""

from bandlimit.filters.bands import (
    kaiser_bandpass,
    kaiser_bandstop,
    kaiser_highpass,
    kaiser_jinc_highpass,
    kaiser_multiband,
)
from bandlimit.filters.kaiser import (
    kaiser_atten,
    kaiser_beta,
    kaiser_jinc,
    kaiser_order,
    kaiser_sinc,
    kaiser_sinc_bigvgan,
    lowpass,
)
from bandlimit.filters.plot import plot_frequency_response, plot_schedule
from bandlimit.filters.pqmf import pqmf_cutoff, pqmf_filters
from bandlimit.filters.resample import resample_filter
from bandlimit.filters.response import (
    band_gain,
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
    "band_gain",
    "frequency_response",
    "geometric_schedule",
    "kaiser_atten",
    "kaiser_bandpass",
    "kaiser_bandstop",
    "kaiser_beta",
    "kaiser_highpass",
    "kaiser_jinc",
    "kaiser_jinc_highpass",
    "kaiser_multiband",
    "kaiser_order",
    "kaiser_sinc",
    "kaiser_sinc_bigvgan",
    "lowpass",
    "magnitude_db",
    "passband_ripple",
    "plot_frequency_response",
    "plot_schedule",
    "pqmf_cutoff",
    "pqmf_filters",
    "resample_filter",
    "stopband_attenuation",
    "stylegan3_schedule",
]
