"""The ``synchronise`` command: keep components and workflows in files, run and follow them.

``main`` is the console script's entry point (see pyproject.toml); the commands live in
``main`` (login and the group), ``sync`` (pull, push, diff), ``runs`` (run, executions,
rerun-failed) and ``follow`` (watching an execution live over the realtime socket).
"""

from __future__ import annotations

from synchronise_client.cli.main import main

__all__ = ["main"]
