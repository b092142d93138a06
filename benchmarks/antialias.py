"""What ``bandlimit.nn.antialias`` costs: converting a model, and running it afterwards.

Run ``python -m benchmarks.antialias``. For torchvision's ResNet-18 and ResNet-50 (weights not
needed; skipped if torchvision is not installed) and for a ResNet-shaped model built here (no
dependency), it prints the time ``antialias(model)`` takes (the placement reading traces the
forward methods with torch.fx) and the forward time of the model before and after, with the
binomial and the Kaiser blur, in inference mode at a batch of images, float32 on the CPU:
medians of ``--repeat`` runs, the three variants of a model interleaved run by run so that
load on the machine hits them alike. The dense convolutions and pools cost what the strided
ones did times ``stride²`` on the layers that are taken over; the blur-pools are depthwise
``upfirdn2d`` calls.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import torch
from torch import nn

from bandlimit.nn import antialias
from benchmarks._record import RESULTS, environment, write
from benchmarks.activations import _time_interleaved


class _Block(nn.Module):
    """torchvision's BasicBlock in short (one ReLU called twice, a strided shortcut)."""

    def __init__(self, c_in: int, c: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c, 3, stride, 1, bias=False)
        self.bn1, self.relu = nn.BatchNorm2d(c), nn.ReLU(inplace=True)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
        self.down = None
        if stride != 1 or c_in != c:
            self.down = nn.Sequential(nn.Conv2d(c_in, c, 1, stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.down is None else self.down(x)))


def small_resnet() -> nn.Module:
    """A ResNet-18-shaped model at a quarter of its width (no torchvision needed)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 7, 2, 3, bias=False), nn.BatchNorm2d(16),
                               nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]  # fmt: skip
    c = 16
    for width, stride in ((16, 1), (32, 2), (64, 2), (128, 2)):
        layers += [_Block(c, width, stride), _Block(width, width, 1)]
        c = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


def _models() -> dict[str, nn.Module]:
    models = {"small ResNet (local)": small_resnet()}
    try:
        import torchvision
    except ImportError:
        print("torchvision is not installed: only the local model")
        return models
    models["torchvision resnet18"] = torchvision.models.resnet18()
    models["torchvision resnet50"] = torchvision.models.resnet50()
    return models


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    print(f"load average before: {os.getloadavg()}")
    rows = []
    for name, model in _models().items():
        model.eval()
        variants = {"plain": model}
        convert_ms = []
        for filt in ("binomial", "kaiser"):
            m = copy.deepcopy(model)
            t0 = time.perf_counter()
            changed = antialias(m, filter=filt)
            convert_ms.append((time.perf_counter() - t0) * 1e3)
            variants[filt] = m

        def run(m: nn.Module):
            def fn() -> None:
                with torch.inference_mode():
                    m(x)
            return fn

        medians = _time_interleaved([run(m) for m in variants.values()], args.repeat)
        times = dict(zip(variants, medians))
        row = {"model": name, "layers_changed": len(changed), "antialias_ms": min(convert_ms),
               "antialias_ms_each": convert_ms,
               **{f"{k}_ms": v for k, v in times.items()}}
        rows.append(row)
        print(f"{name}: {len(changed)} layers, antialias() {min(convert_ms):.0f} ms (the faster "
              f"of its two conversions); forward "
              f"[{args.batch}, 3, {args.size}, {args.size}]: plain {times['plain']:.1f} ms, "
              f"binomial {times['binomial']:.1f} ms ({times['binomial'] / times['plain']:.2f}x), "
              f"kaiser {times['kaiser']:.1f} ms ({times['kaiser'] / times['plain']:.2f}x)")
    print(f"load average after: {os.getloadavg()}")
    meta = environment(args.threads, batch=args.batch, size=args.size, repeat=args.repeat)
    return write("antialias", {"meta": meta, "rows": rows}, args.results)


if __name__ == "__main__":
    main()
