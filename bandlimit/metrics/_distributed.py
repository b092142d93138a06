"""What the metrics share for runs over batches and ``torch.distributed`` ranks: each batch's
seed, the rank, where a collective's tensor lives, and one rank's error raised on all."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def batch_seed(seed: int, batch_index: int) -> int:
    """The seed of batch ``batch_index`` of a run with ``seed``: a stream per batch, so that
    the draws do not depend on the number of ranks (nor on which rank draws them)."""
    state = np.random.SeedSequence([seed, batch_index]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def dist_info(group: Any = None) -> tuple[int, int]:
    """``(rank, world size)``: ``(0, 1)`` without an initialised process group."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(group), dist.get_world_size(group)
    return 0, 1


def reduce_device(group: Any = None) -> torch.device:
    """Where a collective's tensor must live (NCCL: the current GPU)."""
    if torch.distributed.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def raise_on_every_rank(
    error: Exception | None, nonfinite: type[Exception], undefined: str, failed: str
) -> None:
    """Raise ``error`` here and an error of the same kind on every other rank, so that no rank
    waits forever in a collective that the failed one never reaches (no-op on one rank).
    ``nonfinite``: the error class of a generator that wrote NaN or inf; ``undefined`` /
    ``failed``: what the other ranks' messages say ("FID is undefined", "the FID computation
    failed")."""
    _, world = dist_info()
    if world == 1:
        if error is not None:
            raise error
        return
    kind = 0 if error is None else (2 if isinstance(error, nonfinite) else 1)
    flag = torch.tensor([float(kind)], dtype=torch.float32, device=reduce_device())
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    if error is not None:
        raise error
    if flag.item() == 2:
        raise nonfinite(f"the generator wrote NaN or inf on another rank (its error names the "
                        f"batch): {undefined}")
    if flag.item() == 1:
        raise RuntimeError(f"{failed} on another rank (its error is raised there)")
