r"""Export a StyleGAN3 generator built on bandlimit to ONNX, and check it in onnxruntime.

Reads what ``gen_images.py`` reads (a bandlimit checkpoint, a training run directory or an
official network pickle) and writes an ONNX model with inputs ``z`` ``[batch, z_dim]`` (and
``c`` ``[batch, c_dim]`` for a conditional network) and output ``img`` ``[batch, C, H, W]``, the
generator's raw output (about [−1, 1]; ``clamp(img · 127.5 + 128, 0, 255)`` gives uint8
pixels). The batch size is dynamic (while exporting, the modulated convolutions scale the
activations per sample around one shared-weight convolution instead of the grouped convolution
training uses, whose group count ONNX fixes); the truncation is fixed at export time.

While exporting, bandlimit's ops run their pure-PyTorch reference (``impl='auto'`` does this
under ``torch.onnx.export``), so the model is made of standard ONNX operators. Needs
``pip install '.[onnx]'`` in the repository (onnx, onnxscript, onnxruntime).

Example::

    python examples/export_onnx.py --network runs/demo/afgan --output G.onnx
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python examples/export_onnx.py`

from afgan.cli import fail
from gen_images import (
    arg_type,
    float32_float,
    int_at_least,
    load_generator,
    make_parent,
    nonfinite_message,
    write_replacing,
)

__all__ = ["Sampler", "export_generator", "main"]


class Sampler(torch.nn.Module):
    """``G(z, c)`` with the truncation fixed: the graph that is exported."""

    def __init__(self, G: torch.nn.Module, truncation_psi: float, truncation_cutoff: int | None):
        super().__init__()
        self.G = G
        self.truncation_psi = truncation_psi
        self.truncation_cutoff = truncation_cutoff

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z, c, truncation_psi=self.truncation_psi,
                      truncation_cutoff=self.truncation_cutoff)  # fmt: skip


def _example_inputs(G: torch.nn.Module, batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    rng = np.random.RandomState(seed)
    z = torch.from_numpy(rng.randn(batch, G.z_dim).astype(np.float32))
    if G.c_dim == 0:
        return (z,)
    c = torch.zeros(batch, G.c_dim)
    c[torch.arange(batch), torch.from_numpy(rng.randint(G.c_dim, size=batch))] = 1
    return z, c


def export_generator(
    G: torch.nn.Module,
    output: str | Path,
    *,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
) -> Path:
    """Write ``G`` (eval mode, on the CPU) as an ONNX model to ``output``; return the path.

    Inputs are named ``z`` (and ``c`` when ``G.c_dim > 0``), the output ``img``; their first
    dimension, the batch, is dynamic. An earlier ``output`` is replaced only once the new model is
    written; a ``G`` whose output is not finite (e.g. a NaN ``w_avg`` with a truncation) raises
    ValueError before anything is written.
    """
    if importlib.util.find_spec("onnxscript") is None:
        raise ValueError(
            "exporting needs the onnxscript package: pip install '.[onnx]' in the repository"
        )
    sampler = Sampler(G, truncation_psi, truncation_cutoff).eval().cpu()
    inputs = _example_inputs(G, 2, seed=0)  # not 1: the exporter would fix a size-1 dimension
    with torch.no_grad():
        if not bool(torch.isfinite(sampler(*inputs)).all()):  # an export of black images
            raise ValueError(nonfinite_message(G, "example latents", truncation_psi))
    names = ["z", "c"][: len(inputs)]
    # (bounded: without a maximum, torch 2.6 guards the batch against 2**63 - 1 at a slice and
    # then rejects the dimension as not dynamic)
    batch_dim = torch.export.Dim("batch", min=1, max=1 << 16)
    dynamic = {name: {0: batch_dim} for name in names}
    with torch.no_grad(), warnings.catch_warnings():
        # z and c share the batch dimension, which the exporter mentions once per extra input
        warnings.filterwarnings("ignore", message="# The axis name")
        program = torch.onnx.export(sampler, inputs, input_names=names, output_names=["img"],
                                    dynamic_shapes=dynamic, dynamo=True, verbose=False)  # fmt: skip
    output = Path(output)
    write_replacing(output, lambda tmp: program.save(str(tmp)))  # an earlier file survives errors
    return output


def max_difference(G: torch.nn.Module, path: Path, batch: int, truncation_psi: float,
                   truncation_cutoff: int | None, seed: int = 1) -> float:  # fmt: skip
    """Largest absolute difference between onnxruntime and PyTorch on fresh latents."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = _example_inputs(G, batch, seed)
    feed = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)}
    (got,) = session.run(None, feed)
    with torch.no_grad():
        want = Sampler(G, truncation_psi, truncation_cutoff).eval()(*inputs).numpy()
    return float(np.abs(got - want).max())


def main(argv: Sequence[str] | None = None) -> Path:
    """Command-line entry point; returns the written path."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--network", required=True, help="checkpoint, run directory or official .pkl")
    p.add_argument("--output", required=True, type=Path,
                   help="the .onnx file to write (an existing one is replaced)")  # fmt: skip
    p.add_argument("--batch", type=int_at_least(1), default=3,
                   help="batch size of the check (the exported model takes any)")
    p.add_argument("--trunc", dest="truncation_psi", type=arg_type(float32_float), default=1.0)
    p.add_argument("--trunc-cutoff", dest="truncation_cutoff", type=int_at_least(0), default=None)
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip comparing onnxruntime's output with PyTorch's")  # fmt: skip
    args = p.parse_args(argv)

    if args.output.suffix.lower() != ".onnx":
        fail(f"--output must end in .onnx, got {str(args.output)!r}")
    if args.output.is_dir():
        fail(f"--output {str(args.output)!r} is a directory")
    try:
        G = load_generator(args.network).cpu().eval()  # conditional nets too: c is an input
    except ValueError as exc:
        fail(str(exc))
    make_parent(args.output, "--output")
    try:
        path = export_generator(G, args.output, truncation_psi=args.truncation_psi,
                                truncation_cutoff=args.truncation_cutoff)  # fmt: skip
    except ValueError as exc:
        fail(str(exc))
    except OSError as exc:  # a full disk, a read-only directory
        fail(f"cannot write {str(args.output)!r}: {exc.strerror or exc}")
    inputs = "z [batch, z_dim], c [batch, c_dim]" if G.c_dim else "z [batch, z_dim]"
    print(f"wrote {path}: {inputs} -> img [batch, {G.img_channels}, "
          f"{G.img_resolution}, {G.img_resolution}]")  # fmt: skip
    if args.check:
        if importlib.util.find_spec("onnxruntime") is None:
            print("  not checked: onnxruntime is not installed")
        else:
            diff = max_difference(G, path, args.batch, args.truncation_psi, args.truncation_cutoff)
            print(f"  onnxruntime vs PyTorch on new latents: max |difference| {diff:.2e}")
            if not diff <= 1e-3:
                fail(f"the exported model differs from PyTorch by {diff:.3g} (max |difference|)")
    return path


if __name__ == "__main__":
    main()
