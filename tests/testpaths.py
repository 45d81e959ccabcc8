"""Paths the tests share (imported by name; ``conftest`` is ambiguous with tests/browser/conftest.py)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
