"""Loaded before Django is set up: each test run gets files and databases of its own.

Runs never share a SQLite file, an embedded Redis, a PostgreSQL test database or cache keys
with ``make run`` or with another run going on at the same time (CI sets fixed names).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

_run = "ci" if os.environ.get("CI") else str(os.getpid())
os.environ.setdefault("SYNCHRONISE_DATA_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test" / _run))
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{_run}")
# Password hashing is deliberately slow; tests create hundreds of users. Servers they start inherit it.
os.environ.setdefault(
    "PASSWORD_HASHERS",
    "django.contrib.auth.hashers.MD5PasswordHasher,django.contrib.auth.hashers.PBKDF2PasswordHasher",
)
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"test-{_run}")
os.environ.setdefault("CELERY_KEY_PREFIX", f"test-{_run}:")  # workers of another run never take our tasks
if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    _name = urlparse(os.environ["DATABASE_URL"]).path.lstrip("/")
    os.environ.setdefault("DATABASE_TEST_NAME", f"test_{_name}_{_run}")
