"""Where the benchmarks' JSON records go, and what each says about the machine it ran on.

Every benchmark writes one file per run, ``<name>-<YYYYmmdd-HHMMSS>.json`` in
``benchmarks/results/`` (or the folder its ``--results`` names), holding ``meta`` (from
:func:`environment`, plus the benchmark's own settings) and its rows; ``benchmarks/README.md``
cites those files, so a figure can be traced to the run that measured it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def load_average() -> str:
    """``'load average 0.52 0.61 0.70'``: printed before and after a timing run (a busy machine
    makes its ratios noisy)."""
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def environment(threads: int | None = None, device: str | None = None,
                **settings: Any) -> dict[str, Any]:
    """The run's ``meta``: date, machine, processor, CPU count, Python, torch and (if installed)
    numba versions, ``threads`` and ``device`` when given, the GPU's name on a CUDA device, and
    the benchmark's own ``settings`` last."""
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    try:
        import numba

        meta["numba"] = numba.__version__
    except ImportError:  # (the benchmarks of the reference and CUDA paths run without it)
        pass
    if threads is not None:
        meta["threads"] = threads
    if device is not None:
        meta["device"] = str(device)
        if torch.device(device).type == "cuda":
            meta["gpu"] = torch.cuda.get_device_name(device)
    return {**meta, **settings}


def write(name: str, record: dict[str, Any], folder: Path = RESULTS) -> Path:
    """``record`` as JSON to ``folder/<name>-<date>-<time>.json`` (the folder made if needed;
    non-JSON numbers such as NumPy floats written as floats); prints and returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(record, indent=1, default=float))
    print(f"wrote {out}")
    return out
