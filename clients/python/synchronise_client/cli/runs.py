"""``run``, ``executions list|show|logs`` and ``rerun-failed``. Progress goes to stderr and
results (outputs, JSON) to stdout, so ``synchronise run … > out.json`` keeps only the outputs."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from synchronise_client import Synchronise
from synchronise_client.cli.follow import COMPONENT, WORKFLOW, LogTail, Ref, finished, read, watch
from synchronise_client.cli.session import CliError, connect, print_json

REF = re.compile(r"^([cw]?)(\d+)$")
FOLLOW_HELP = "Poll the REST API instead of following over the realtime socket."


def parse_inputs(value: str) -> dict[str, Any]:
    """``--input``: a JSON object, or ``@path`` to a file holding one (``@-``: standard input)."""
    if value.startswith("@"):
        name = value[1:]
        try:
            value = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as error:
            raise CliError("invalid", f"--input: cannot read {name}: {error.strerror}") from None
    try:
        inputs = json.loads(value)
    except ValueError as error:
        raise CliError("invalid", f"--input is not JSON: {error}") from None
    if not isinstance(inputs, dict):
        raise CliError("invalid", "--input must be a JSON object of inputs")
    return inputs


def parse_ref(text: str, workflow: bool) -> Ref:
    match = REF.match(text.strip().lower())
    if not match:
        raise CliError("invalid", f"{text!r} is not an execution: c12 (a component's), w12 (a workflow's) or 12")
    prefix, number = match.groups()
    kind = WORKFLOW if prefix == "w" or (not prefix and workflow) else COMPONENT
    return Ref(kind, int(number))


def say(note: str) -> None:
    click.echo(f"note: {note}", err=True)


def progress(snapshot: dict[str, Any], state: dict[str, Any], tail: LogTail) -> None:
    """Say on stderr what changed: the status, each step's status, the new log lines."""
    status = snapshot.get("status")
    if status != state.get("status"):
        click.echo(f"… {status}", err=True)
        state["status"] = status
    summaries = snapshot.get("steps") if "step_runs" in snapshot else None
    for step in summaries or []:
        name = step.get("step") or step.get("id")
        key = f"step {name}"
        if step.get("status") != state.get(key):
            click.echo(f"  {key}: {step.get('status')}", err=True)
            state[key] = step.get("status")
    for line in tail.new_lines(snapshot):
        click.echo(f"  │ {line}", err=True)


def report(snapshot: dict[str, Any], ref: Ref) -> None:
    """The outputs on stdout, or the error and exit status 1."""
    if snapshot.get("status") == "succeeded":
        print_json(snapshot.get("outputs") or {})
        return
    error = snapshot.get("error") or {}
    message = error.get("message") or f"execution {ref} {snapshot.get('status')}"
    if error.get("step"):
        message = f"{message} (step {error['step']})"
    raise CliError(error.get("code") or str(snapshot.get("status")), f"{message} [execution {ref}]")


@click.command()
@click.argument("kind", type=click.Choice([COMPONENT, WORKFLOW]))
@click.argument("identifier", metavar="ID", type=int)
@click.option("-i", "--input", "raw_input", default="{}", help="The inputs: JSON, or @file (@- for stdin).")
@click.option("--version", "version", help="A published version's number, or 'draft' (default: the latest).")
@click.option("--poll", is_flag=True, help=FOLLOW_HELP)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr, only the outputs.")
def run(kind: str, identifier: int, raw_input: str, version: str | None, poll: bool, quiet: bool) -> None:
    """Run a component or a workflow, follow it, print its outputs as JSON."""
    client = connect()
    inputs = parse_inputs(raw_input)
    resource = client.components if kind == COMPONENT else client.workflows
    started = resource.run_async(identifier, inputs, version=version)  # type: ignore[arg-type]
    ref = Ref(kind, int(started["id"]))
    if not quiet:
        click.echo(f"execution {ref} started", err=True)
    snapshot = _follow(client, ref, poll=poll, quiet=quiet)
    if snapshot.get("status") == "succeeded" and "step_runs" in snapshot:
        snapshot = read(client, ref)  # the outputs as the REST API shapes them, for scripts
    report(snapshot, ref)


def _follow(client: Synchronise, ref: Ref, *, poll: bool, quiet: bool) -> dict[str, Any]:
    state: dict[str, Any] = {}
    tail = LogTail()
    snapshot: dict[str, Any] = {}
    for snapshot in watch(client, ref, poll=poll, note=None if quiet else say):
        if not quiet:
            progress(snapshot, state, tail)
    return snapshot


@click.group()
def executions() -> None:
    """Executions: c12 is a component's, w12 a workflow's."""


@executions.command("list")
@click.option("--component", type=int, help="Only this component's runs.")
@click.option("--workflow", type=int, help="Only this workflow's executions.")
@click.option("--status", help="queued, running, succeeded, failed, cancelled, timed_out…")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print the executions as JSON.")
def executions_list(component: int | None, workflow: int | None, status: str | None, limit: int, as_json: bool) -> None:
    """The newest executions, of components and of workflows."""
    client = connect()
    rows: list[tuple[Ref, str, dict[str, Any]]] = []
    if workflow is None:
        params: dict[str, Any] = {"limit": 100 if status else limit}
        if component is not None:
            params["component"] = component
        for row in client.request("GET", "executions/", params=params)["results"]:
            if status is None or row.get("status") == status:
                rows.append((Ref(COMPONENT, row["id"]), f"component {row.get('component')}", row))
    if component is None:
        filters = {k: v for k, v in {"workflow": workflow, "status": status}.items() if v is not None}
        for row in client.workflow_executions.list(limit=limit, **filters):
            rows.append((Ref(WORKFLOW, row["id"]), f"workflow {row.get('workflow')}", row))
    rows.sort(key=lambda item: str(item[2].get("created_at") or ""), reverse=True)
    rows = rows[:limit]
    if as_json:
        print_json([{"ref": str(ref), **row} for ref, _what, row in rows])
        return
    click.echo(f"{'ID':<8} {'OF':<16} {'STATUS':<10} {'TRIGGER':<9} {'CREATED':<26} DURATION")
    for ref, what, row in rows:
        duration = f"{row['duration_ms'] / 1000:.2f} s" if row.get("duration_ms") is not None else ""
        click.echo(
            f"{ref!s:<8} {what:<16} {row.get('status', ''):<10} {row.get('trigger', ''):<9} "
            f"{row.get('created_at', ''):<26} {duration}"
        )


@executions.command("show")
@click.argument("ref")
@click.option("-w", "--workflow", is_flag=True, help="A bare number is a workflow execution's.")
def executions_show(ref: str, workflow: bool) -> None:
    """One execution as JSON (a workflow's with its step runs)."""
    print_json(read(connect(), parse_ref(ref, workflow)))


@executions.command("logs")
@click.argument("ref")
@click.option("-w", "--workflow", is_flag=True, help="A bare number is a workflow execution's.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the execution ends.")
@click.option("--poll", is_flag=True, help=FOLLOW_HELP)
def executions_logs(ref: str, workflow: bool, follow: bool, poll: bool) -> None:
    """The execution's log lines (a workflow's prefixed with their step)."""
    client = connect()
    target = parse_ref(ref, workflow)
    tail = LogTail()
    if not follow:
        for line in tail.new_lines(read(client, target)):
            click.echo(line)
        return
    snapshot: dict[str, Any] = {}
    for snapshot in watch(client, target, poll=poll, note=say):
        for line in tail.new_lines(snapshot):
            click.echo(line)
    if finished(snapshot):
        click.echo(f"… {snapshot.get('status')}", err=True)


@click.command("rerun-failed")
@click.argument("workflow", type=int)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's answer as JSON.")
def rerun_failed(workflow: int, limit: int, as_json: bool) -> None:
    """Replay the workflow's newest failed executions (those failed on bad input are skipped)."""
    answer = connect().request("POST", f"workflows/{workflow}/rerun-failed/", json={"limit": limit})
    if as_json:
        print_json(answer)
        return
    started = answer.get("started") or []
    click.echo(f"started {len(started)}: " + " ".join(str(Ref(WORKFLOW, e["id"])) for e in started))
    skipped = answer.get("skipped") or {}
    if skipped.get("count"):
        ids = " ".join(str(Ref(WORKFLOW, i)) for i in skipped.get("executions") or [])
        click.echo(f"skipped {skipped['count']}: {ids} ({skipped.get('reason', '')})")
    if answer.get("message"):
        click.echo(answer["message"])
