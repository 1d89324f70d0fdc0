"""Loaded before Django is set up: tests keep their files apart from `make run`'s."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SYNCHRONISE_DATA_DIR", str(Path(__file__).parent / "var" / "test"))
