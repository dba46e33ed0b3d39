import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# Real fixtures live beside the repository (never copied into it); ADASGN_SHARED_DATA overrides.
SHARED_DATA = Path(os.environ.get("ADASGN_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real fixtures not found at {SHARED_DATA} (set ADASGN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture
def one_thread():
    """One intra-op thread: small tests, and on a shared 2-core machine a 2-thread pool beside
    another busy process makes every op wait for a preempted thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
