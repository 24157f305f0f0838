"""What the tests share: the repository's root, synthetic submissions, toy modules."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
