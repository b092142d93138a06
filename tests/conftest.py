"""Shared test configuration: Hypothesis profiles.

CI (``CI`` set) runs a deterministic profile (derandomized, no example database) so that a
green run is reproducible; locally the ``thorough`` profile explores more examples.
Select explicitly with ``HYPOTHESIS_PROFILE=ci|dev|thorough``.
"""

import os

from hypothesis import HealthCheck, Phase, settings

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One thread per worker: xdist already runs one worker per core, and oversubscribed
    # torch/numba thread pools make small ops orders of magnitude slower.
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# The lent-GPU run (benchmarks/gpu_suite.sh): minutes are scarce, so a failing example is
# reported as found, without shrinking (hundreds of GPU calls per failing test).
settings.register_profile(
    "gpu",
    derandomize=True,
    database=None,
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# ---------------------------------------------------------------------------------------------
# Ground-truth vectors made with the official code live outside the repository (shared/).
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_vectors_dir() -> Path | None:
    """``$BANDLIMIT_VECTORS`` or ``<repo>/../shared/reference/vectors``; None when absent."""
    default = REPO_ROOT.parent / "shared/reference/vectors"
    candidates = [os.environ.get("BANDLIMIT_VECTORS"), default]
    for c in candidates:
        if c and Path(c, "README.md").is_file():
            return Path(c)
    return None


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    found = find_vectors_dir()
    if found is None:
        msg = "reference vectors not found (set BANDLIMIT_VECTORS or place shared/ beside the repo)"
        if os.environ.get("CI"):
            pytest.fail(msg)  # CI always has them: a missing copy must not pass silently
        pytest.skip(msg)
    return found


# ---------------------------------------------------------------------------------------------
# ``BANDLIMIT_TEST_SHARD=k/n`` keeps every n-th collected test from the k-th (0-based): the
# sanitizer runs (test_cuda_sanitizers.py) split one slow file into pieces that xdist's workers
# can share.
SHARD_ENV = "BANDLIMIT_TEST_SHARD"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = os.environ.get(SHARD_ENV)
    if not shard:
        return
    try:
        k, n = (int(v) for v in shard.split("/"))
        valid = 0 <= k < n
    except ValueError:
        valid = False
    if not valid:
        raise pytest.UsageError(f"{SHARD_ENV}={shard!r}: expected 'k/n', 0 <= k < n")
    config.hook.pytest_deselected(items=[item for i, item in enumerate(items) if i % n != k])
    items[:] = items[k::n]
