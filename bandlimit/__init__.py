"""bandlimit: alias-free signal-processing building blocks for neural networks.

Subpackages
-----------
filters
    Filter design (Kaiser-windowed sinc and jinc), frequency-response analysis, cutoff schedules.
ops
    upfirdn, bias_act and fused filtered activations, with 'ref' (PyTorch), 'numba' (CPU) and
    'cuda' backends.
nn
    Modules: Snake, SnakeBeta, alias-free activations (1-D/2-D), BigVGAN drop-ins.
metrics
    The paper's equivariance metrics (EQ-T, EQ-T_frac, EQ-R) for StyleGAN3-style generators.
testing
    Hypothesis strategies and equivariance assertions (import explicitly; the strategies need
    hypothesis).
"""

from bandlimit import filters, metrics, nn, ops

__version__ = "0.1.0.dev0"
__all__ = ["__version__", "filters", "metrics", "nn", "ops"]
