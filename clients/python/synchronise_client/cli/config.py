"""Where the CLI finds the server and the secret key: ``SYNCHRONISE_URL`` / ``SYNCHRONISE_KEY``,
else the file ``login`` wrote (``$XDG_CONFIG_HOME/synchronise/config.toml``, by default under
``~/.config``), readable by its owner only."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

URL_ENV = "SYNCHRONISE_URL"
KEY_ENV = "SYNCHRONISE_KEY"
CONFIG_ENV = "SYNCHRONISE_CONFIG"  # another file, for several servers side by side
LINE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(".*")\s*$')


@dataclass(frozen=True)
class Settings:
    url: str
    key: str


def config_path() -> Path:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "synchronise" / "config.toml"


def read_file(path: Path) -> dict[str, str]:
    """The ``name = "value"`` pairs of the file (the only TOML the CLI writes); empty if absent.
    TOML's basic strings escape as JSON strings do, so each value is read as one."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line)
        if match:
            values[match.group(1)] = str(json.loads(match.group(2)))
    return values


def write_file(path: Path, values: dict[str, str]) -> None:
    """Write the pairs with mode 0600 from the start: the key is never readable by others,
    not even between the file's creation and a later chmod."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = "".join(f"{name} = {json.dumps(value)}\n" for name, value in values.items())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an older file keeps its mode through O_TRUNC


def load() -> Settings | None:
    """The environment wins over the file, value by value; ``None`` when either is missing."""
    stored = read_file(config_path())
    url = os.environ.get(URL_ENV) or stored.get("url", "")
    key = os.environ.get(KEY_ENV) or stored.get("key", "")
    if not url or not key:
        return None
    return Settings(url=url.rstrip("/"), key=key)
