"""What every command shares: the client for the configured server, and the CLI's own errors."""

from __future__ import annotations

import json
from typing import Any

import click

from synchronise_client import Synchronise
from synchronise_client.cli import config


class CliError(Exception):
    """A failure found by the CLI itself (no server answer), shown as the API's errors are."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def connect() -> Synchronise:
    """The client for the configured server; ``CliError`` when there is none."""
    settings = config.load()
    if settings is None:
        raise CliError(
            "not_configured",
            f"no server: run `synchronise login` or set {config.URL_ENV} and {config.KEY_ENV}",
        )
    return Synchronise(settings.key, base_url=settings.url)


def key_project(client: Synchronise) -> int:
    """The project the secret key belongs to: where new components and workflows go."""
    me = client.request("GET", "me/")
    key = me.get("api_key") or {}
    if not key.get("project"):
        raise CliError("no_project", "the key names no project; pass --project")
    return int(key["project"])


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
