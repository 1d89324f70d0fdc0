"""The ``synchronise`` command group, ``login``, and how every command fails: ``error <code>:
<message>`` on stderr (the API's ``{code, message, …details}``) and exit status 1."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import requests

from synchronise_client import Synchronise, SynchroniseError
from synchronise_client.cli import config, runs, sync
from synchronise_client.cli.session import CliError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="synchronise-client")
def cli() -> None:
    """Synchronise from a terminal: keep components and workflows in git, run and follow them.

    The server and secret key come from SYNCHRONISE_URL and SYNCHRONISE_KEY, or from the file
    `synchronise login` writes.
    """


@cli.command()
@click.option("--url", help="The server, e.g. https://synchronise.example.com")
@click.option("--key", help="A secret key (sk_…) of the project; asked for when left out.")
def login(url: str | None, key: str | None) -> None:
    """Check a server and secret key, then remember them (the file is readable by you only)."""
    url = (url or click.prompt("Server URL")).rstrip("/")
    key = key or click.prompt("Secret key", hide_input=True)
    if not key.startswith("sk_"):
        raise CliError("invalid", "the CLI needs a secret key (sk_…): a publishable key only runs public things")
    me = Synchronise(key, base_url=url).request("GET", "me/")
    path = config.config_path()
    config.write_file(path, {"url": url, "key": key})
    project = (me.get("api_key") or {}).get("project")
    click.echo(f"Logged in to {url} as {me.get('email')} (project {project}); saved in {path}")


for command in (sync.components, sync.workflows, sync.diff, runs.run, runs.executions, runs.rerun_failed):
    cli.add_command(command)


def fail(code: Any, message: str, details: dict[str, Any] | None = None) -> None:
    click.echo(f"error {code}: {message}" if code is not None else f"error: {message}", err=True)
    if details:
        click.echo(json.dumps(details, ensure_ascii=False), err=True)
    sys.exit(1)


def main() -> None:
    try:
        cli.main(prog_name="synchronise")
    except SynchroniseError as error:
        body = error.body if isinstance(error.body, dict) else {}
        # What the client may act on, minus what was said already (and a failed run's whole record).
        details = {k: v for k, v in body.items() if k not in ("code", "message", "detail", "execution")}
        if error.code is not None and body.get("status") in ("failed", "cancelled", "timed_out"):
            details = {"execution": body.get("id"), "status": body.get("status")}
        fail(error.code if error.code is not None else error.status, error.message, details)
    except CliError as error:
        fail(error.code, error.message)
    except requests.ConnectionError as error:
        fail("connection_error", f"cannot reach the server: {error}")
