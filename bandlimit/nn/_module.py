"""The base of bandlimit's modules."""

from __future__ import annotations

from torch import nn


class Module(nn.Module):
    """An ``nn.Module`` that ``torch.jit.script`` refuses with one clear message (TorchScript
    cannot compile the Python ops with Numba and CUDA kernels that its forward calls; without
    this it fails deep inside the ops' argument checks on an annotation it does not know)."""

    def __prepare_scriptable__(self) -> nn.Module:  # (torch.jit.script calls it, recursively)
        raise NotImplementedError(
            f"torch.jit.script cannot compile {type(self).__name__} (bandlimit's ops are Python "
            f"functions around Numba and CUDA kernels, which TorchScript cannot compile); use "
            f"torch.compile or torch.export, or torch.jit.trace (a traced module can be a "
            f"submodule of a scripted model)"
        )
