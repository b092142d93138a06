"""afgan: the Alias-Free GAN (StyleGAN3) reference model, built on bandlimit.

This package lives in ``examples/`` (import it with ``examples/`` on ``sys.path``, which the
scripts there do for themselves). It shows that bandlimit's filters and ops are enough to rebuild
the official StyleGAN3 generator exactly:

- :mod:`afgan.networks` — MappingNetwork, SynthesisInput, SynthesisLayer, SynthesisNetwork and
  Generator, with the official constructor arguments, forward signatures and state_dict names.
  Every schedule number comes from :func:`bandlimit.filters.stylegan3_schedule`, every filter from
  its :meth:`~bandlimit.filters.Schedule.layer_filters`, every activation from
  :mod:`bandlimit.ops`.
- :mod:`afgan.legacy` — reads official StyleGAN3 network pickles without NVIDIA's code (an
  allow-listed unpickler that never executes the code embedded in the pickle) and reads/writes
  bandlimit checkpoints.
- :mod:`afgan.training`, :mod:`afgan.loss`, :mod:`afgan.discriminator`, :mod:`afgan.augment`
  (ADA), :mod:`afgan.data` — the trainer behind ``train_afgan.py``.
"""

from afgan.networks import (
    FullyConnectedLayer,
    Generator,
    MappingNetwork,
    SynthesisInput,
    SynthesisLayer,
    SynthesisNetwork,
    modulated_conv2d,
)

__all__ = [
    "FullyConnectedLayer",
    "Generator",
    "MappingNetwork",
    "SynthesisInput",
    "SynthesisLayer",
    "SynthesisNetwork",
    "modulated_conv2d",
]
