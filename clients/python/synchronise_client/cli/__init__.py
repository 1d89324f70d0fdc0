"""The ``synchronise`` command: keep components and workflows in files, run and follow them.

``main`` is the console script's entry point (see pyproject.toml); the commands live in
``main`` (the group, login, and how failures are shown), ``sync`` (pull, push, diff), ``runs``
(run, executions, rerun-failed), ``follow`` (watching an execution live over the realtime
socket), ``layout`` (the files), ``config`` (the login file) and ``session`` (the client).
"""

from __future__ import annotations

from synchronise_client.cli.main import main

__all__ = ["main"]
