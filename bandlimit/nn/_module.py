"""The base of bandlimit's modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

_HALF = (torch.float16, torch.bfloat16)


class Module(nn.Module):
    """An ``nn.Module`` that ``torch.jit.script`` refuses with one clear message (TorchScript
    cannot compile the Python ops with Numba and CUDA kernels that its forward calls; without
    this it fails deep inside the ops' argument checks on an annotation it does not know).

    The buffers named in ``_filter_buffers`` (designed filter taps) keep their precision when
    the module is cast to float16 / bfloat16 (``.half()``, ``.to(dtype)``; device moves
    apply): taps rounded to half precision lose 8-11 dB of stop-band attenuation, for good
    (a later ``.float()`` cannot restore them), and the ops compute half precision with
    float32 filters anyway. They stay real when it is cast to a complex dtype (complex signals
    are filtered by real taps)."""

    _filter_buffers: tuple[str, ...] = ()

    def register_design(self, name: str, tensor: torch.Tensor | None,
                        persistent: bool = True) -> None:
        """Register the designed taps ``tensor`` as buffer ``name``, remembered (a CPU copy)
        for :meth:`reset_parameters`."""
        self.register_buffer(name, tensor, persistent=persistent)
        if tensor is not None:  # (a meta tensor has no taps to keep: None, said on reset)
            designs = self.__dict__.setdefault("_designs", {})
            designs[name] = None if tensor.is_meta else tensor.detach().to("cpu", copy=True)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Restore the designed filter taps (and, in modules with parameters, their initial
        values), in place on their device: after ``to_empty`` (meta-device initialisation,
        FSDP), whose buffers hold garbage, and which ``load_state_dict`` does not refill for
        the taps a module does not save."""
        for name, design in self.__dict__.get("_designs", {}).items():
            # (a buffer, or the parameter assigned in its place to learn the taps)
            t = self._buffers.get(name, self._parameters.get(name))
            if t is None or t.is_meta:
                continue
            if design is None:
                raise ValueError(
                    f"{type(self).__name__}.{name} was a meta tensor when the module was built: "
                    f"there are no taps to restore (build it with real taps: numbers or a "
                    f"CPU tensor)"
                )
            if t.shape == design.shape:
                t.copy_(design.to(t.dtype))

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        kept: dict[str, torch.Tensor] = {}
        for name in self._filter_buffers:
            buf = self._buffers.get(name)
            if buf is not None:
                kept[name] = buf
        out = super()._apply(fn, *args, **kwargs)
        for name, before in kept.items():
            after = self._buffers[name]
            if after is not None and (
                (after.dtype in _HALF and before.dtype not in _HALF)
                or (after.is_complex() and not before.is_complex())  # (taps stay real)
            ):
                self._buffers[name] = before.to(device=after.device)
        return out

    def __prepare_scriptable__(self) -> nn.Module:  # (torch.jit.script calls it, recursively)
        raise NotImplementedError(
            f"torch.jit.script cannot compile {type(self).__name__} (bandlimit's ops are Python "
            f"functions around Numba and CUDA kernels, which TorchScript cannot compile); use "
            f"torch.compile or torch.export, or torch.jit.trace (a traced module can be a "
            f"submodule of a scripted model)"
        )
