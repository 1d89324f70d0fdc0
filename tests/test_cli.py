"""The ``synchronise`` command, installed with the Python client, against a live platform: the
ASGI server and a real Celery worker; the console script runs in a subprocess with HOME in a
temporary folder, as a user would run it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from synchronise_client import Synchronise

from accounts import services as account_services
from components.models import Component, Execution
from tests import servers
from tests.factories import make_component, make_project, make_workflow
from workflows.models import WorkflowExecution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

# The console script `make install` puts next to the interpreter (pyproject's [project.scripts]).
SCRIPT = Path(sys.executable).parent / "synchronise"
NUMBER = {"type": "number", "subtype": "integer"}
ADD = """
def run(inputs, ctx):
    if inputs["a"] < 0:
        raise ComponentError("a must not be negative", 201)
    ctx.log(f"adding {inputs['a']} and {inputs['b']}")
    return {"sum": inputs["a"] + inputs["b"]}
"""
TICKS = """import time

def run(inputs, ctx):
    for i in range(inputs["n"]):
        ctx.log(f"tick {i}")
        time.sleep(0.6)
    return {"done": True}
"""


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.asgi_server() as url, servers.celery_worker(name="cli"):
        yield url


@pytest.fixture
def adder(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Add",
        code=ADD,
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        outputs=[{"name": "sum", **NUMBER}],
    )


@pytest.fixture
def workflow(alice, project, adder):  # type: ignore[no-untyped-def]
    return make_workflow(
        project=project,
        actor=alice,
        name="Plus eleven",
        inputs=[{"name": "x", **NUMBER}],
        steps=[
            {"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.x }}", "b": 1}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 10}},
        ],
        outputs=[{"name": "total", "value": "{{ steps.two.output.sum }}", **NUMBER}],
    )


@pytest.fixture
def secret(alice, project) -> str:  # type: ignore[no-untyped-def]
    return account_services.api_key_create(project=project, actor=alice)[1]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


class Cli:
    """The console script with HOME (and so its config file) in a temporary folder, run in ``cwd``."""

    def __init__(self, home: Path, cwd: Path, env: dict[str, str]) -> None:
        self.home, self.cwd, self.env = home, cwd, env

    def environment(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCHRONISE_", "XDG_"))}
        return {**env, "HOME": str(self.home), **self.env, **extra}

    def __call__(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args],
            cwd=self.cwd,
            env=self.environment(**extra),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def ok(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        done = self(*args, **extra)
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done


@pytest.fixture
def cli(home: Path, tmp_path: Path, platform: str, secret: str) -> Cli:
    """Logged in through the environment, as in CI."""
    work = tmp_path / "repo"
    work.mkdir()
    return Cli(home, work, {"SYNCHRONISE_URL": platform, "SYNCHRONISE_KEY": secret})


def failed(done: subprocess.CompletedProcess[str], code: Any) -> str:
    """The stderr of a command that failed with the API's ``code``."""
    assert done.returncode != 0, done.stdout
    said = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert said, done.stderr
    assert said[0].startswith(f"error {code}: "), done.stderr
    return done.stderr


def test_login_writes_a_private_config_that_the_environment_overrides(platform, secret, home, tmp_path, adder):  # type: ignore[no-untyped-def]
    anonymous = Cli(home, tmp_path, {})
    refused = anonymous("login", "--url", platform, "--key", "sk_not_a_key")
    assert "Invalid or revoked API key" in failed(refused, "authentication_failed")
    config = home / ".config" / "synchronise" / "config.toml"
    assert not config.exists()  # a key the server refuses is not kept
    assert "not_configured" in anonymous("components", "pull").stderr

    done = anonymous.ok("login", "--url", platform + "/", "--key", secret)
    assert f"Logged in to {platform} as alice@example.com" in done.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert config.read_text() == f'url = "{platform}"\nkey = "{secret}"\n'

    pulled = anonymous.ok("components", "pull")  # the file is enough
    assert f"pulled Add (#{adder.pk})" in pulled.stdout
    overridden = anonymous("components", "pull", SYNCHRONISE_KEY="sk_revoked")
    failed(overridden, "authentication_failed")  # the environment wins over the file
    elsewhere = anonymous("components", "pull", SYNCHRONISE_URL="http://127.0.0.1:9")
    failed(elsewhere, "connection_error")


def test_pull_edit_push_run_round_trip(cli, adder):  # type: ignore[no-untyped-def]
    cli.ok("components", "pull")
    folder = cli.cwd / "components" / "add"
    meta = yaml.safe_load((folder / "component.yaml").read_text())
    assert meta["id"] == adder.pk
    assert (meta["name"], meta["kind"], [i["name"] for i in meta["inputs"]]) == ("Add", "code", ["a", "b"])
    code = folder / "code.py"
    assert code.read_text() == ADD
    assert cli.ok("diff").stdout == ""

    code.write_text(ADD.replace('inputs["a"] + inputs["b"]}', 'inputs["a"] + inputs["b"] + 100}'))
    meta["description"] = "Adds, plus a hundred"
    (folder / "component.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    shown = cli.ok("diff").stdout
    assert "--- server/components/add/code.py\n+++ local/components/add/code.py\n" in shown
    assert '-    return {"sum": inputs["a"] + inputs["b"]}\n' in shown
    assert '+    return {"sum": inputs["a"] + inputs["b"] + 100}\n' in shown
    assert "+description: Adds, plus a hundred\n" in shown
    assert cli("diff", "--exit-code").returncode == 1

    pushed = cli.ok("components", "push", "-m", "plus a hundred")
    assert f"pushed Add (#{adder.pk}): description, code" in pushed.stdout
    assert "published Add version 2" in pushed.stdout
    adder.refresh_from_db()
    assert adder.versions.get(number=2).changelog == "plus a hundred"
    assert cli.ok("diff", "--exit-code").stdout == ""
    assert "unchanged" in cli.ok("components", "push").stdout

    ran = cli.ok("run", "component", str(adder.pk), "--input", '{"a": 1, "b": 2}')
    assert json.loads(ran.stdout) == {"sum": 103}
    assert "adding 1 and 2" in ran.stderr  # the progress display shows the run's log
    assert "succeeded" in ran.stderr


def test_push_creates_a_component_from_a_new_folder(cli, project):  # type: ignore[no-untyped-def]
    folder = cli.cwd / "components" / "double"
    folder.mkdir(parents=True)
    spec = {"name": "Double", "kind": "code", "inputs": [{"name": "n", **NUMBER}], "outputs": [{"name": "n", **NUMBER}]}
    (folder / "component.yaml").write_text(yaml.safe_dump(spec))
    (folder / "code.py").write_text("def run(inputs, ctx):\n    return {'n': inputs['n'] * 2}\n")
    assert "new: components/double" in cli.ok("diff").stdout
    cli.ok("components", "push")
    created = Component.objects.get(name="Double")
    assert created.project_id == project.pk  # the key's project
    assert yaml.safe_load((folder / "component.yaml").read_text())["id"] == created.pk  # for the next push
    (cli.cwd / "input.json").write_text('{"n": 21}')
    ran = cli.ok("run", "component", str(created.pk), "--input", "@input.json", "--quiet")
    assert (json.loads(ran.stdout), ran.stderr) == ({"n": 42}, "")


def test_workflows_pull_push_and_run_with_an_input_file(cli, workflow, adder):  # type: ignore[no-untyped-def]
    cli.ok("workflows", "pull")
    path = cli.cwd / "workflows" / "plus-eleven.yaml"
    document = yaml.safe_load(path.read_text())
    assert (document["id"], document["format"]) == (workflow.pk, "synchronise.workflow")
    assert [c["ref"]["component"] for c in document["components"]] == [adder.pk]  # by reference
    assert "embedded" not in path.read_text()

    document["workflow"]["definition"]["steps"][1]["inputs"]["b"] = 20
    document["workflow"]["name"] = "Plus twenty-one"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    shown = cli.ok("diff").stdout
    assert "-        b: 10\n" in shown
    assert "+        b: 20\n" in shown

    pushed = cli.ok("workflows", "push")
    assert f"pushed Plus twenty-one (#{workflow.pk})" in pushed.stdout
    assert "published Plus twenty-one version 2" in pushed.stdout
    workflow.refresh_from_db()
    assert workflow.definition["steps"][1]["component"] == adder.pk
    assert cli.ok("diff").stdout == ""

    (cli.cwd / "inputs.json").write_text(json.dumps({"x": 5}))
    ran = cli.ok("run", "workflow", str(workflow.pk), "--input", "@inputs.json")
    assert json.loads(ran.stdout) == {"total": 26}
    assert "step one: succeeded" in ran.stderr
    assert "step two: succeeded" in ran.stderr
    assert "note:" not in ran.stderr  # followed over the realtime socket, not by polling

    # A file without an id is imported as a new workflow of the key's project.
    copy = {k: v for k, v in document.items() if k != "id"}
    (cli.cwd / "workflows" / "copy.yaml").write_text(yaml.safe_dump(copy, sort_keys=False))
    imported = cli.ok("workflows", "push", "workflows/copy.yaml")
    assert "imported Plus twenty-one" in imported.stdout
    new_id = yaml.safe_load((cli.cwd / "workflows" / "copy.yaml").read_text())["id"]
    assert new_id != workflow.pk
    assert json.loads(cli.ok("run", "workflow", str(new_id), "-i", '{"x": 0}', "-q").stdout) == {"total": 21}


def test_logs_follow_sees_the_lines_of_a_running_execution(cli, alice, project, secret, platform):  # type: ignore[no-untyped-def]
    ticker = make_component(
        project=project, actor=alice, name="Ticker", code=TICKS,
        inputs=[{"name": "n", **NUMBER}], outputs=[{"name": "done", "type": "bool"}],
    )  # fmt: skip
    started = Synchronise(secret, base_url=platform).components.run_async(ticker.pk, {"n": 6})
    follower = subprocess.Popen(
        [str(SCRIPT), "executions", "logs", f"c{started['id']}", "--follow"],
        cwd=cli.cwd,
        env=cli.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert follower.stderr is not None
        first = follower.stdout.readline()
        status_then = Execution.objects.get(pk=started["id"]).status
        # Read on through the same buffered stream: communicate() would read the pipe underneath it
        # and miss the lines already buffered with the first.
        rest = follower.stdout.read()
        errors = follower.stderr.read()
        follower.wait(timeout=60)
    finally:
        follower.kill()
    assert first == "tick 0\n"
    assert status_then == "running"  # the line came while the run went on, not at its end
    assert (first + rest).splitlines() == [f"tick {i}" for i in range(6)]
    assert follower.returncode == 0
    assert "succeeded" in errors
    assert "note:" not in errors  # over the socket

    listed = cli.ok("executions", "list").stdout
    assert f"c{started['id']}" in listed
    assert "succeeded" in listed
    shown = json.loads(cli.ok("executions", "show", f"c{started['id']}").stdout)
    assert (shown["outputs"], shown["logs"][0]) == ({"done": True}, "tick 0")
    assert cli.ok("executions", "logs", str(started["id"])).stdout.startswith("tick 0\ntick 1\n")
    polled = cli.ok("executions", "logs", f"c{started['id']}", "--follow", "--poll")
    assert polled.stdout.splitlines()[-1] == "tick 5"


def test_a_secret_key_socket_sees_only_its_project(cli, alice, adder, platform):  # type: ignore[no-untyped-def]
    execution = Synchronise(cli.env["SYNCHRONISE_KEY"], base_url=platform).components.run_async(
        adder.pk, {"a": 1, "b": 1}
    )
    elsewhere = make_project(owner=alice, name="Elsewhere")
    _key, other = account_services.api_key_create(project=elsewhere, actor=alice)
    refused = cli("executions", "logs", f"c{execution['id']}", "--follow", SYNCHRONISE_KEY=other)
    assert "note:" not in refused.stderr  # the socket opened; the function refused
    failed(refused, "not_found")
    bad = cli("executions", "logs", f"c{execution['id']}", "--follow", SYNCHRONISE_KEY="sk_nope")
    assert "HTTP 403" in bad.stderr  # the handshake is refused, then the API says why
    failed(bad, "authentication_failed")


def test_workflow_executions_and_rerun_failed(cli, workflow):  # type: ignore[no-untyped-def]
    failing = cli("run", "workflow", str(workflow.pk), "--input", '{"x": -3}')
    assert "a must not be negative (step one)" in failed(failing, 201)
    listed = json.loads(cli.ok("executions", "list", "--workflow", str(workflow.pk), "--json").stdout)
    assert [(e["status"], e["ref"][0]) for e in listed] == [("failed", "w")]
    failed_id = listed[0]["id"]
    shown = json.loads(cli.ok("executions", "show", f"w{failed_id}").stdout)
    assert [s["step"] for s in shown["steps"]] == ["one"]

    rerun = cli.ok("rerun-failed", str(workflow.pk))
    assert rerun.stdout.startswith("started 1: w")
    replay = int(rerun.stdout.split()[2][1:])
    assert WorkflowExecution.objects.get(pk=replay).trigger == "replay"
    again = json.loads(cli.ok("rerun-failed", str(workflow.pk), "--json").stdout)
    assert set(again) == {"started", "skipped", "message"}
    assert again["skipped"]["count"] == 0


def test_errors_print_the_code_and_message_and_exit_non_zero(cli, adder, workflow):  # type: ignore[no-untyped-def]
    unknown = cli("run", "component", str(adder.pk + 1000), "--input", '{"a": 1, "b": 2}')
    assert f"unknown component {adder.pk + 1000}" in failed(unknown, 104)
    wrong = cli("run", "component", str(adder.pk), "--input", '{"a": "one", "b": 2}')
    assert failed(wrong, 101).splitlines() == [  # as docs/cli.md shows it
        "error 101: inputs of the wrong type: a",
        '{"incorrect": [{"name": "a", "expected": "number/integer", "given": "text \'one\'"}]}',
    ]
    missing = cli("run", "workflow", str(workflow.pk))
    assert '"missing": ["x"]' in failed(missing, 102)
    raised = cli("run", "component", str(adder.pk), "--input", '{"a": -1, "b": 2}')
    assert "a must not be negative" in failed(raised, 201)
    failed(cli("run", "component", str(adder.pk), SYNCHRONISE_KEY="sk_bad"), "authentication_failed")
    failed(cli("executions", "show", "w999999"), "not_found")
    failed(cli("executions", "show", "x1"), "invalid")
    failed(cli("run", "component", str(adder.pk), "--input", "{not json"), "invalid")
    failed(cli("run", "component", str(adder.pk), "--input", "@nowhere.json"), "invalid")
    usage = cli("run", "thing", "1")
    assert usage.returncode == 2  # click's usage error
    assert "Invalid value" in usage.stderr


def test_an_http_component_keeps_its_request_in_component_yaml(cli, alice, project):  # type: ignore[no-untyped-def]
    fetcher = make_component(
        project=project, actor=alice, name="Fetch page", kind="http", code="",
        http={"method": "GET", "url": "https://example.com/"},
    )  # fmt: skip
    cli.ok("components", "pull", str(fetcher.pk))
    folder = cli.cwd / "components" / "fetch-page"
    assert sorted(p.name for p in folder.iterdir()) == ["component.yaml"]  # no code.py
    meta = yaml.safe_load((folder / "component.yaml").read_text())
    assert (meta["kind"], meta["http"]["url"]) == ("http", "https://example.com/")
    meta["http"]["url"] = "https://example.com/pages"
    (folder / "component.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    assert "+  url: https://example.com/pages\n" in cli.ok("diff").stdout
    assert "published Fetch page version 2" in cli.ok("components", "push").stdout
    fetcher.refresh_from_db()
    assert fetcher.versions.get(number=2).http["url"] == "https://example.com/pages"


def test_a_key_of_a_member_who_may_only_view_cannot_push(cli, alice, bob, project, adder):  # type: ignore[no-untyped-def]
    _key, bobs = account_services.api_key_create(project=project, actor=bob)
    account_services.member_set_permission(project=project, actor=alice, user=bob, permission="view")
    cli.ok("components", "pull", SYNCHRONISE_KEY=bobs)  # reading is allowed
    code = cli.cwd / "components" / "add" / "code.py"
    code.write_text(code.read_text().replace("+ inputs", "- inputs"))
    refused = cli("components", "push", SYNCHRONISE_KEY=bobs)
    failed(refused, "forbidden")
    adder.refresh_from_db()
    assert adder.code == ADD
    assert adder.versions.count() == 1


def test_logs_follow_of_a_workflow_execution_prefixes_each_step(cli, workflow, secret, platform):  # type: ignore[no-untyped-def]
    started = Synchronise(secret, base_url=platform).workflows.run_async(workflow.pk, {"x": 5})
    followed = cli.ok("executions", "logs", f"w{started['id']}", "--follow")
    assert followed.stdout.splitlines() == ["[one] adding 5 and 1", "[two] adding 6 and 10"]
    assert "note:" not in followed.stderr
    assert cli.ok("executions", "logs", str(started["id"]), "--workflow").stdout == followed.stdout
