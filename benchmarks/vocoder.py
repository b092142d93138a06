"""A whole BigVGAN-shaped vocoder on the CPU: alias-free-torch's blocks vs the same model after
:func:`bandlimit.nn.bigvgan.patch`. Run with ``python -m benchmarks.vocoder``.

What a vocoder user sees end to end, where the per-block benchmark (``activations.py``) sees one
layer. The generator follows the BigVGAN paper's description (Lee et al., 2023): a 7-tap input
convolution from the mel spectrogram; per stage a transposed convolution that up-samples by the
stage's rate and halves the channels, then a multi-receptive-field fusion of AMP blocks (kernel
sizes 3, 7, 11, each block three residual units: alias-free SnakeBeta, dilated convolution
(1, 3, 5), alias-free SnakeBeta, convolution), averaged; a last alias-free SnakeBeta, a 7-tap
output convolution and tanh. ``--config base`` is BigVGAN-base (512 channels, rates 8·8·2·2),
``--config v2`` the 24 kHz v2 model (1536 channels, rates 4·4·2·2·2·2); both hop 256 samples.
The weights are random (speed does not depend on them).

Three variants of one model, the same weights:

* **alias-free-torch**: ``alias_free_torch.Activation1d`` blocks — what BigVGAN runs without
  its CUDA kernel (which is GPU-only and inference-only);
* **bandlimit**: the same model after ``bandlimit.nn.bigvgan.patch`` (numba on the CPU), the
  user's one-line change; the script checks its output equals the first's;
* **convolutions only**: every activation block replaced by the identity — the floor that no
  activation, however fast, can go below; ``total − this`` is the activations' share.

Cases: inference on ``--seconds`` of audio (batch 1, no gradient; the real-time factor is time /
audio duration), a streaming chunk of ``--chunk-frames`` mel frames, and one training step
(forward + backward of an L1 loss) on a batch of ``--batch`` segments of 32 frames (8192
samples, BigVGAN's training segment). Milliseconds, median of ``--repeat`` runs, the variants
interleaved run by run. Needs ``alias-free-torch`` (the test extra).

``--compile`` times the three models after ``torch.compile`` (inductor, or the backend named),
the compile itself in the warm-up; the script checks the compiled bandlimit model's output
equals the eager one's.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import torch
from torch import nn

from benchmarks._record import RESULTS, environment, load_average, write
from benchmarks.activations import _time_interleaved

SAMPLE_RATE, HOP, N_MELS = 24000, 256, 100
CONFIGS = {
    "base": dict(channels=512, rates=(8, 8, 2, 2), kernels=(16, 16, 4, 4)),
    "v2": dict(channels=1536, rates=(4, 4, 2, 2, 2, 2), kernels=(8, 8, 4, 4, 4, 4)),
}


def _conv(channels: int, kernel: int, dilation: int = 1) -> nn.Conv1d:
    """A length-preserving convolution."""
    return nn.Conv1d(channels, channels, kernel, dilation=dilation,
                     padding=dilation * (kernel - 1) // 2)


class AMPBlock(nn.Module):
    """Residual units ``x + conv(act(dilated conv(act(x))))``, one per dilation."""

    def __init__(self, channels: int, kernel: int, dilations, block):
        super().__init__()
        self.convs1 = nn.ModuleList(_conv(channels, kernel, d) for d in dilations)
        self.convs2 = nn.ModuleList(_conv(channels, kernel) for _ in dilations)
        self.acts1 = nn.ModuleList(block(channels) for _ in dilations)
        self.acts2 = nn.ModuleList(block(channels) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2, a1, a2 in zip(self.convs1, self.convs2, self.acts1, self.acts2):
            x = x + c2(a2(c1(a1(x))))
        return x


class Vocoder(nn.Module):
    """mel ``[N, 100, T]`` → waveform ``[N, 1, T·256]``; ``block(channels)`` makes an
    alias-free activation block."""

    def __init__(self, channels: int, rates, kernels, block, res_kernels=(3, 7, 11),
                 dilations=(1, 3, 5)):
        super().__init__()
        self.conv_pre = nn.Conv1d(N_MELS, channels, 7, padding=3)
        self.ups = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        for rate, kernel in zip(rates, kernels):
            self.ups.append(nn.ConvTranspose1d(channels, channels // 2, kernel, stride=rate,
                                               padding=(kernel - rate) // 2))
            channels //= 2
            self.mrfs.append(
                nn.ModuleList(AMPBlock(channels, k, dilations, block) for k in res_kernels)
            )
        self.act_post = block(channels)
        self.conv_post = nn.Conv1d(channels, 1, 7, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for up, mrf in zip(self.ups, self.mrfs):
            x = up(x)
            x = sum(b(x) for b in mrf) / len(mrf)
        return torch.tanh(self.conv_post(self.act_post(x)))


def build_models(config: str, channels: int | None = None) -> dict[str, nn.Module]:
    """The three variants (same weights) of ``config`` (``channels``: the first stage's input
    channels instead of the config's)."""
    import alias_free_torch as aft

    from bandlimit.nn import SnakeBeta, bigvgan

    torch.manual_seed(0)
    kw = dict(CONFIGS[config])
    kw["channels"] = channels or kw["channels"]
    peer = Vocoder(**kw, block=lambda c: aft.Activation1d(SnakeBeta(c, alpha_logscale=True)))
    ours = copy.deepcopy(peer)
    replaced = bigvgan.patch(ours)
    convs = copy.deepcopy(peer)
    for name in replaced:  # (every activation block, by the names patch replaced)
        parent, _, child = name.rpartition(".")
        setattr(convs.get_submodule(parent) if parent else convs, child, nn.Identity())
    return {"alias-free-torch": peer, "bandlimit": ours, "convolutions only": convs}


def _inference(model: nn.Module, mel: torch.Tensor):
    def run():
        with torch.no_grad():
            model(mel)

    return run


def _train_step(model: nn.Module, mel: torch.Tensor, target: torch.Tensor):
    def run():
        model.zero_grad(set_to_none=True)
        (model(mel) - target).abs().mean().backward()

    return run


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", choices=sorted(CONFIGS), default="base")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--seconds", type=float, default=1.0, help="inference audio length")
    p.add_argument("--chunk-frames", type=int, default=8, help="streaming chunk (mel frames)")
    p.add_argument("--batch", type=int, default=2, help="training segments per step")
    p.add_argument("--channels", type=int, default=None, help="override the config's width")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--compile", nargs="?", const="inductor", default=None, metavar="BACKEND",
                   help="time the models after torch.compile (default backend: inductor)")
    args = p.parse_args(argv)
    import numba

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    print(
        f"# vocoder ({args.config}) — {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} "
        f"CPUs, {args.threads} threads, torch {torch.__version__}, numba {numba.__version__}"
    )
    load0 = load_average()
    print(load0)
    models = build_models(args.config, args.channels)
    names = list(models)
    params = sum(t.numel() for t in models["alias-free-torch"].parameters())
    print(f"{params / 1e6:.1f} M parameters\n")

    frames = max(1, round(args.seconds * SAMPLE_RATE / HOP))
    torch.manual_seed(1)
    mel = torch.randn(1, N_MELS, frames)
    with torch.no_grad():
        y_peer, y_ours = models["alias-free-torch"](mel), models["bandlimit"](mel)
    diff = (y_peer - y_ours).abs().max().item()
    print(f"max |alias-free-torch − bandlimit| output difference: {diff:.2e}\n")
    compiled_diff = None
    if args.compile:
        t0 = time.perf_counter()
        models = {n: torch.compile(m, backend=args.compile) for n, m in models.items()}
        with torch.no_grad():
            compiled_diff = (models["bandlimit"](mel) - y_ours).abs().max().item()
        print(f"torch.compile (backend {args.compile}); bandlimit's compiled output differs from "
              f"its eager one by {compiled_diff:.2e} (first compile {time.perf_counter() - t0:.0f}"
              f" s)\n")

    cases = [
        (f"inference, {frames} frames ({frames * HOP / SAMPLE_RATE:.2f} s of audio)",
         frames * HOP / SAMPLE_RATE, [_inference(models[n], mel) for n in names]),
    ]
    chunk = torch.randn(1, N_MELS, args.chunk_frames)
    cases.append((f"streaming chunk, {args.chunk_frames} frames", args.chunk_frames * HOP /
                   SAMPLE_RATE, [_inference(models[n], chunk) for n in names]))
    seg = torch.randn(args.batch, N_MELS, 32)
    target = torch.randn(args.batch, 1, 32 * HOP)
    cases.append((f"training step, batch {args.batch} × 32 frames", None,
                  [_train_step(models[n], seg, target) for n in names]))

    rows = []
    print("| case | " + " | ".join(f"{n} (ms)" for n in names)
          + " | speed-up | activations' share: alias-free-torch → bandlimit |")
    print("|---|" + "---|" * (len(names) + 2))
    for label, audio_s, fns in cases:
        t = dict(zip(names, _time_interleaved(fns, args.repeat)))
        peer, ours, convs = t["alias-free-torch"], t["bandlimit"], t["convolutions only"]
        share = f"{max(peer - convs, 0) / peer:.0%} → {max(ours - convs, 0) / ours:.0%}"
        rtf = ""
        if audio_s is not None:  # real-time factor: compute time / audio duration
            rtf = f" (RTF {peer / 1e3 / audio_s:.2f} → {ours / 1e3 / audio_s:.2f})"
        print(f"| {label} | " + " | ".join(f"{t[n]:.1f}" for n in names)
              + f" | {peer / ours:.2f}×{rtf} | {share} |")
        rows.append({"case": label, "audio_s": audio_s, **{f"{n}_ms": t[n] for n in names}})
    load1 = load_average()
    print(f"\n{load1}")
    tag = f"{args.config}-compiled" if args.compile else args.config
    meta = environment(
        args.threads, config=args.config,
        channels=args.channels or CONFIGS[args.config]["channels"], parameters=params,
        max_output_difference=diff, compile_backend=args.compile,
        compiled_output_difference=compiled_diff, load_before=load0, load_after=load1,
        repeat=args.repeat,
    )
    return write(f"vocoder-{tag}", {"meta": meta, "rows": rows}, args.results)


if __name__ == "__main__":
    main()
