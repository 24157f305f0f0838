"""What the tests share: the repository's root, synthetic submissions, toy modules."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def require_torch():
    """PyTorch (the yardstick of tests/dlcore/test_against_torch.py and bench_cnn), or a skip; a failure
    instead when DLCORE_REQUIRE_TORCH=1 (CI installs it)."""
    import pytest

    if os.environ.get("DLCORE_REQUIRE_TORCH") == "1":
        try:
            import torch
        except ImportError as exc:
            pytest.fail(f"DLCORE_REQUIRE_TORCH=1 but PyTorch does not import ({exc}): pip install torch==2.13.0",
                        pytrace=False)
        return torch
    return pytest.importorskip("torch")
