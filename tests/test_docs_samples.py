"""Every code sample of the guide (docs/guide/, served at /docs/) runs against a live platform.

A fence's info string says what it is: ```bash run / ```python run are run, ```python setup is
run by the setup itself (the code of the component "Add"), ```… norun are shown only (a browser
page, `make run` itself, the setup's own placeholders). A run sample followed by a
```text block must print that text (``...`` matches anything within a line, a line ``...`` any
lines). The setup is the one "Getting started" documents: a project with a secret and a
publishable key, the published public component "Add" and the published workflow "Plus eleven",
given to the samples as $SYNCHRONISE_URL, $SK, $PK, $PROJECT, $COMPONENT and $WORKFLOW.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from accounts import services as account_services
from synchronise import docs_site
from tests import servers
from tests.factories import make_component, make_workflow

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
RUNNERS = {"bash": ["bash", "-euo", "pipefail", "-c"], "python": [sys.executable, "-c"]}
CODE_LANGUAGES = {"bash", "sh", "shell", "console", "python", "py", "js", "javascript", "html", "ts"}
DATA_LANGUAGES = {"text", "json"}  # outputs and documents, not samples

NUMBER = {"type": "number", "subtype": "integer"}
MARKS = ("run", "setup", "norun")


@dataclass(frozen=True)
class Sample:
    page: str
    line: int
    language: str
    mark: str
    code: str
    expected: str | None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def fences(source: str) -> list[tuple[int, str, str]]:
    """(line, info string, body) of each fenced block, in order."""
    return [(source.count("\n", 0, m.start()) + 1, m["info"].strip(), m["body"]) for m in FENCE.finditer(source)]


def samples() -> list[Sample]:
    found = []
    for slug, path in docs_site.guide_files():
        source, _included = docs_site.resolve_includes(path.read_text(encoding="utf-8"), path)
        blocks = fences(source)
        for index, (line, info, body) in enumerate(blocks):
            words = info.split()
            if len(words) < 2 or words[1] not in MARKS:
                continue
            expected = None
            if index + 1 < len(blocks) and blocks[index + 1][1] == "text":
                following = blocks[index + 1]
                between = source.split("\n")[line + body.count("\n") + 1 : following[0] - 1]
                if not any(text.strip() for text in between):  # the text block right after the sample
                    expected = following[2]
            found.append(Sample(slug, line, words[0], words[1], body, expected))
    return found


RUNNABLE = [s for s in samples() if s.mark == "run"]
# The code of the component "Add" that every sample calls, as "Getting started" shows it.
(ADD,) = [s.code for s in samples() if s.mark == "setup"]


def matches(expected: str, output: str) -> bool:
    """``output`` line by line against ``expected``, where ``...`` matches anything."""
    parts = []
    for line in expected.strip("\n").split("\n"):
        if line.strip() == "...":
            parts.append(r"(?:.*\n)*?")
        else:
            parts.append(".*".join(re.escape(piece) for piece in line.rstrip().split("...")) + r"[ \t]*\n")
    return re.fullmatch("".join(parts), output.strip("\n") + "\n") is not None


def test_every_code_block_is_marked_run_or_norun() -> None:
    unmarked = []
    for slug, path in docs_site.guide_files():
        source, _ = docs_site.resolve_includes(path.read_text(encoding="utf-8"), path)
        for line, info, _body in fences(source):
            words = info.split()
            if not words:
                unmarked.append(f"{slug}:{line} (no language)")
            elif words[0] in DATA_LANGUAGES:
                continue
            elif words[0] not in CODE_LANGUAGES or len(words) < 2 or words[1] not in MARKS:
                unmarked.append(f"{slug}:{line} ```{info}")
            elif words[1] in ("run", "setup") and words[0] not in RUNNERS:
                unmarked.append(f"{slug}:{line} ```{info} (no runner for {words[0]})")
    assert unmarked == [], "code blocks without run/norun (or not runnable): " + ", ".join(unmarked)


def test_every_run_bash_sample_shows_its_output() -> None:
    """curl exits 0 on a 404: a shell sample proves something only through the output it shows."""
    silent = [s.id for s in RUNNABLE if s.language == "bash" and s.expected is None]
    assert silent == []
    assert len(RUNNABLE) >= 15  # the guide is made of examples; a parser that finds none fails here


def test_the_output_matcher() -> None:
    assert matches('{"a":1,...}', '{"a":1,"b":2}\n')
    assert not matches('{"a":1}', '{"a":2}\n')
    assert matches("one\n...\nfour", "one\ntwo\nthree\nfour\n")
    assert not matches("one\nfour", "one\ntwo\nfour\n")
    assert matches('{\n  "sum": 3\n}', '{\n  "sum": 3\n}\n')
    assert not matches('{\n  "sum": 3\n}', '{\n"sum": 3\n}\n')  # indentation counts


def test_no_doc_links_outside_the_repository() -> None:
    """Markdown links and includes of docs/ (and the README) point at files of the repository or URLs."""
    outside = []
    link = re.compile(r"\]\((?P<href>[^)\s]+)\)|<!--\s*include\s+(?P<include>\S+)\s*-->")
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in link.finditer(text):
            href = match["href"] or match["include"]
            if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/(api|docs|hooks|ws|healthz|superadmin)\b", href):
                continue
            target = (path.parent / href.partition("#")[0]).resolve()
            if not target.is_relative_to(ROOT) or not target.exists() or "shared" in target.parts:
                outside.append(f"{path.relative_to(ROOT)}: {href}")
        if re.search(r"\.\./shared|/work/shared", text):
            outside.append(f"{path.relative_to(ROOT)}: mentions ../shared")
    assert outside == []


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker) -> Iterator[str]:
    with django_db_blocker.unblock(), servers.asgi_server() as url, servers.celery_worker(name="docs-samples"):
        yield url


@pytest.fixture
def sample_env(platform, alice, project) -> dict[str, str]:
    """The setup "Getting started" documents, made through the services."""
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    _pkey, publishable = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    add = make_component(
        project=project,
        actor=alice,
        name="Add",
        code=ADD,
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        outputs=[{"name": "sum", **NUMBER}],
        public=True,
    )
    workflow = make_workflow(
        project=project,
        actor=alice,
        name="Plus eleven",
        inputs=[{"name": "x", **NUMBER}],
        steps=[
            {"id": "one", "component": add.pk, "inputs": {"a": "{{ input.x }}", "b": 1}},
            {"id": "two", "component": add.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 10}},
        ],
        outputs=[{"name": "total", "value": "{{ steps.two.output.sum }}", **NUMBER}],
        public=True,
    )
    return {
        **os.environ,
        # The virtualenv's commands first: the `synchronise` CLI is installed there with the client.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SYNCHRONISE_CONFIG": "/nonexistent/synchronise.toml",  # never a developer's own login
        "SYNCHRONISE_URL": platform.rstrip("/"),
        "SK": secret,
        "PK": publishable,
        "PROJECT": str(project.pk),
        "COMPONENT": str(add.pk),
        "WORKFLOW": str(workflow.pk),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
@pytest.mark.parametrize("sample", RUNNABLE, ids=[s.id for s in RUNNABLE])
def test_sample_runs(sample: Sample, sample_env: dict[str, str]) -> None:
    done = subprocess.run(
        [*RUNNERS[sample.language], sample.code],
        env=sample_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"{sample.id} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    if sample.expected is not None:
        assert matches(sample.expected, done.stdout), (
            f"{sample.id} printed:\n{done.stdout}\nexpected:\n{sample.expected}"
        )
