"""The sandbox runner's contract: what component code can do and what the host gets back.

The attacks live in test_sandbox_escape.py. These tests start real zygote processes (no database).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from textwrap import dedent
from typing import Any

import pytest

from components.sandbox import (
    ALLOWED_MODULES,
    Code,
    HttpRequest,
    HttpResponse,
    Job,
    Limits,
    Outcome,
    Pool,
    check_syntax,
    get_pool,
)


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    pool = Pool()
    pool.start()
    yield pool
    pool.close()


def run(pool: Pool, code: str, inputs: dict[str, Any] | None = None, **kwargs: Any) -> Outcome:
    return pool.run(Job(code=dedent(code), inputs=inputs or {}, idempotency_key="key-1"), **kwargs)


def test_it_returns_outputs(pool: Pool) -> None:
    outcome = run(
        pool,
        """
        def run(inputs, ctx):
            return {"sum": inputs["a"] + inputs["b"], "names": sorted(inputs["names"]), "nothing": None}
        """,
        {"a": 2, "b": 3.5, "names": ["b", "a"]},
    )
    assert outcome.ok, outcome.error
    assert outcome.outputs == {"sum": 5.5, "names": ["a", "b"], "nothing": None}
    assert outcome.error is None
    assert outcome.duration_ms > 0


def test_it_streams_log_lines_in_order_as_they_happen(pool: Pool) -> None:
    seen: list[tuple[str, float]] = []
    outcome = run(
        pool,
        """
        import time
        def run(inputs, ctx):
            ctx.log("first", 1, {"a": 1})
            print("second")
            print("third", "fourth", sep="-")
            time.sleep(0.3)
            ctx.log("last")
            return {}
        """,
        on_log=lambda line: seen.append((line, time.monotonic())),
    )
    assert outcome.ok, outcome.error
    lines = [line for line, _ in seen]
    assert lines == ["first 1 {'a': 1}", "second", "third-fourth", "last"]
    assert outcome.logs == lines
    # Streamed, not collected at the end: the early lines arrived before the code slept.
    assert seen[3][1] - seen[2][1] >= 0.25


def test_it_reports_progress(pool: Pool) -> None:
    progress: list[tuple[Any, str]] = []
    outcome = run(
        pool,
        """
        def run(inputs, ctx):
            ctx.progress(1, "fetching")
            ctx.progress(0.5)
            ctx.progress("done", "all good")
            return {}
        """,
        on_progress=lambda step, message: progress.append((step, message)),
    )
    assert outcome.ok, outcome.error
    assert progress == [(1, "fetching"), (0.5, ""), ("done", "all good")]


@pytest.mark.parametrize(
    "raise_line",
    [
        'raise ComponentError("card declined", 402)',
        'from synchronise import ComponentError\n    raise ComponentError("card declined", 402)',
    ],
)
def test_a_component_error_carries_its_code_and_message(pool: Pool, raise_line: str) -> None:
    outcome = run(pool, f"def run(inputs, ctx):\n    {raise_line}\n")
    assert not outcome.ok
    assert outcome.error == {"code": 402, "message": "card declined"}


def test_a_component_error_may_ask_for_a_retry_after(pool: Pool) -> None:
    outcome = run(pool, "def run(inputs, ctx):\n    raise ComponentError('slow down', 429, retry_after=30)\n")
    assert outcome.error == {"code": 429, "message": "slow down", "retry_after": 30.0}
    for wait in ("-1", "'soon'", "float('nan')", "10**6"):
        outcome = run(pool, f"def run(inputs, ctx):\n    raise ComponentError('x', 429, retry_after={wait})\n")
        assert outcome.error is not None
        assert outcome.error["code"] == Code.EXCEPTION, wait
        assert "retry_after must be 0 to 86400 seconds" in outcome.error["message"]


def test_a_component_error_below_200_is_refused(pool: Pool) -> None:
    outcome = run(pool, "def run(inputs, ctx):\n    raise ComponentError('sneaky', 109)\n")
    assert outcome.error is not None
    assert outcome.error["code"] == Code.EXCEPTION
    assert "200 or more" in outcome.error["message"]


def test_an_uncaught_exception_gives_120_with_the_users_lines_only(pool: Pool) -> None:
    outcome = run(
        pool,
        """
        import json

        def helper(text):
            return json.loads(text)

        def run(inputs, ctx):
            return helper("{not json")
        """,
    )
    assert outcome.error is not None
    assert outcome.error["code"] == 120
    assert outcome.error["message"].startswith("JSONDecodeError: Expecting property name")
    assert outcome.error["type"] == "JSONDecodeError"
    trace = outcome.error["traceback"]
    assert 'File "<component>", line 8, in run' in trace
    assert 'File "<component>", line 5, in helper' in trace
    assert "return json.loads(text)" in trace
    assert "json/decoder.py" not in trace
    assert "jail" not in trace
    assert "/work" not in trace


def test_a_syntax_error_gives_121_with_line_and_column(pool: Pool) -> None:
    code = "def run(inputs, ctx):\n    x = (1 +\n    return {}\n"
    outcome = run(pool, code)
    assert outcome.error is not None
    assert outcome.error["code"] == Code.SYNTAX
    assert outcome.error["message"].startswith("SyntaxError")
    assert (outcome.error["line"], outcome.error["col"]) == (2, 9)


def test_check_syntax_reports_line_and_column_without_running_anything(tmp_path: Any) -> None:
    assert check_syntax("def run(inputs, ctx):\n    return {}\n") is None
    marker = tmp_path / "ran"
    assert check_syntax(f"open({str(marker)!r}, 'w')\n") is None  # compiles, never runs
    assert not marker.exists()
    problem = check_syntax("def run(inputs, ctx):\n    return {\n\nx = ]\n")
    assert problem is not None
    assert problem["line"] == 4
    assert problem["col"] == 5
    indent = check_syntax("def run(inputs, ctx):\nreturn 1\n")
    assert indent is not None
    assert indent["line"] == 2
    assert indent["message"].startswith("IndentationError")
    assert check_syntax("x = 1\ny = '\x00'\n") == {"line": 2, "col": 6, "message": "the code contains a NUL"}
    assert check_syntax("x = " + "(" * 10_000 + ")" * 10_000) is not None  # too deep: reported, not a crash
    assert check_syntax("x = 1\n" * 200_000) is not None  # larger than MAX_CODE_BYTES


def test_code_without_run_gives_122(pool: Pool) -> None:
    assert (run(pool, "x = 1\n").error or {})["code"] == Code.NO_RUN
    assert (run(pool, "run = 42\n").error or {})["code"] == Code.NO_RUN


def test_it_sees_the_idempotency_key(pool: Pool) -> None:
    outcome = pool.run(
        Job(
            code="def run(inputs, ctx):\n    return {'key': ctx.idempotency_key}\n",
            inputs={},
            idempotency_key="exec-42",
        )
    )
    assert outcome.outputs == {"key": "exec-42"}


def test_ctx_http_goes_through_the_host_callback(pool: Pool) -> None:
    requests: list[HttpRequest] = []

    def serve(request: HttpRequest) -> HttpResponse:
        requests.append(request)
        body = json.dumps({"echo": request.json, "n": len(requests)}).encode()
        return HttpResponse(status=201, headers={"Content-Type": "application/json; charset=utf-8"}, body=body)

    outcome = run(
        pool,
        """
        def run(inputs, ctx):
            first = ctx.http("post", "https://api.example.com/items",
                             headers={"Authorization": "Bearer {{ secrets.TOKEN }}"},
                             json={"name": inputs["name"]}, params={"page": 2, "tags": ["a", "b"]})
            second = ctx.http("PUT", "https://api.example.com/raw", data=b"\\x00\\xffbytes")
            third = ctx.http("POST", "https://api.example.com/form", data={"a": "1"})
            return {"status": first.status, "ok": first.ok, "type": first.headers["content-type"],
                    "json": first.json(), "text": second.text, "n": third.json()["n"]}
        """,
        {"name": "widget"},
        http=serve,
    )
    assert outcome.ok, outcome.error
    assert outcome.outputs == {
        "status": 201,
        "ok": True,
        "type": "application/json; charset=utf-8",
        "json": {"echo": {"name": "widget"}, "n": 1},
        "text": '{"echo": null, "n": 2}',
        "n": 3,
    }
    first, second, third = requests
    assert (first.method, first.url) == ("POST", "https://api.example.com/items")
    assert first.headers == {"Authorization": "Bearer {{ secrets.TOKEN }}"}  # the host substitutes secrets
    assert first.params == {"page": 2, "tags": ["a", "b"]}
    assert first.json == {"name": "widget"}
    assert first.data is None
    assert second.data == b"\x00\xffbytes"
    assert second.json is None
    assert third.data == {"a": "1"}


def test_a_refused_http_request_raises_connection_error_inside(pool: Pool) -> None:
    outcome = run(
        pool,
        """
        def run(inputs, ctx):
            try:
                ctx.http("GET", "http://127.0.0.1:5432/")
            except ConnectionError as error:
                return {"error": str(error)}
        """,
        http=lambda request: HttpResponse(status=0, headers={}, error="destination not allowed"),
    )
    assert outcome.outputs == {"error": "destination not allowed"}


def test_too_many_http_calls_give_114(pool: Pool) -> None:
    calls: list[str] = []

    def serve(request: HttpRequest) -> HttpResponse:
        calls.append(request.url)
        return HttpResponse(status=200, headers={}, body=b"ok")

    outcome = run(
        pool,
        """
        def run(inputs, ctx):
            for i in range(100):
                try:
                    ctx.http("GET", f"https://example.com/{i}")
                except BaseException:
                    pass
            return {"done": True}
        """,
        limits=Limits(http_calls=3),
        http=serve,
    )
    assert outcome.error is not None
    assert outcome.error["code"] == Code.HTTP_CALLS
    assert len(calls) == 3


def test_allowed_modules_import_and_work(pool: Pool) -> None:
    outcome = run(
        pool,
        """
        import importlib_is_not_here_so_use_the_list
        """,
    )
    assert (outcome.error or {})["code"] == Code.EXCEPTION
    imports = "\n".join(f"    import {name}" for name in ALLOWED_MODULES)
    outcome = run(
        pool,
        "def run(inputs, ctx):\n"
        + imports
        + dedent(
            """
            from datetime import datetime, timezone
            from decimal import Decimal
            from zoneinfo import ZoneInfo
            from urllib.parse import urlencode, quote
            from collections import Counter
            import hashlib, hmac, base64, uuid, re, statistics, random, xml.etree.ElementTree as ET
            paris = datetime(2024, 7, 1, 12, tzinfo=timezone.utc).astimezone(ZoneInfo("Europe/Paris"))
            return {
                "paris": paris.isoformat(),
                "parsed": datetime.strptime("2024-02-03", "%Y-%m-%d").date().isoformat(),
                "decimal": str(Decimal("0.1") + Decimal("0.2")),
                "sha": hashlib.sha256(b"x").hexdigest()[:8],
                "hmac": hmac.new(b"k", b"m", "sha256").hexdigest()[:8],
                "b64": base64.b64encode(b"hi").decode(),
                "uuid": len(str(uuid.uuid4())),
                "query": urlencode({"q": "a b"}),
                "re": re.sub(r"\\d", "#", "a1b2"),
                "mean": statistics.mean([1, 2, 3]),
                "counter": Counter("aab").most_common(1)[0][0],
                "xml": ET.fromstring("<a><b>t</b></a>").find("b").text,
                "latin": "é".encode("cp1252").decode("latin-1"),
                "random": 0 <= random.random() < 1,
            }
            """
        ).replace("\n", "\n    "),
    )
    assert outcome.ok, outcome.error
    assert outcome.outputs == {
        "paris": "2024-07-01T14:00:00+02:00",
        "parsed": "2024-02-03",
        "decimal": "0.3",
        "sha": "2d711642",
        "hmac": "b60090e3",
        "b64": "aGk=",
        "uuid": 36,
        "query": "q=a+b",
        "re": "a#b#",
        "mean": 2,
        "counter": "a",
        "xml": "t",
        "latin": "é",
        "random": True,
    }


@pytest.mark.parametrize(
    "module", ["os", "sys", "socket", "subprocess", "ctypes", "importlib", "pathlib", "urllib.request"]
)
def test_other_modules_are_not_importable(pool: Pool, module: str) -> None:
    outcome = run(pool, f"def run(inputs, ctx):\n    import {module}\n    return {{}}\n")
    assert outcome.error is not None
    assert outcome.error["code"] == Code.EXCEPTION
    assert outcome.error["message"] == f"ModuleNotFoundError: module {module!r} is not available in the sandbox"


def test_open_is_not_a_builtin(pool: Pool) -> None:
    outcome = run(
        pool, "def run(inputs, ctx):\n    return {'open': 'open' in __builtins__, 'len': 'len' in __builtins__}\n"
    )
    assert outcome.ok, outcome.error
    assert outcome.outputs == {"open": False, "len": True}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return [1, 2]", "run() must return a dict of outputs, got list"),
        ("return None", "run() must return a dict of outputs, got NoneType"),
        ("return {1: 'a'}", "output names must be strings, got 1"),
        ("return {'x': object()}", "outputs must be JSON-serialisable"),
        ("return {'x': float('nan')}", "outputs must be JSON-serialisable"),
        ("return {'x': 'y' * 2000}", "outputs are 2008 bytes, more than the limit of 1000"),
        (
            "class D(dict):\n        def __iter__(self):\n            raise RuntimeError('boom')\n    return D(a=1)",
            "outputs could not be read: RuntimeError: boom",
        ),
    ],
)
def test_bad_outputs_give_112(pool: Pool, body: str, message: str) -> None:
    outcome = run(pool, f"def run(inputs, ctx):\n    {body}\n", limits=Limits(output_bytes=1000))
    assert outcome.error is not None
    assert outcome.error["code"] == Code.OUTPUT
    assert outcome.error["message"].startswith(message)


def test_logs_beyond_the_limit_are_cut_with_a_marker_and_fail_with_113(pool: Pool) -> None:
    seen: list[str] = []
    outcome = run(
        pool,
        """
        def run(inputs, ctx):
            for i in range(10_000):
                ctx.log("line %05d" % i)
            return {"finished": True}
        """,
        limits=Limits(log_bytes=100),
        on_log=seen.append,
    )
    assert outcome.error is not None
    assert outcome.error["code"] == Code.LOGS
    assert seen == outcome.logs
    assert outcome.logs[:10] == [f"line {i:05d}" for i in range(10)]
    assert outcome.logs[-1] == "[log limit of 100 bytes reached: the run was stopped]"
    assert sum(len(line) for line in outcome.logs[:-1]) <= 100


def test_it_takes_inputs_with_unicode_and_nesting(pool: Pool) -> None:
    inputs = {"text": "héllo ✓ 𝄞", "nested": {"list": [1, [2, {"x": None}]], "flag": True}}
    outcome = run(pool, "def run(inputs, ctx):\n    ctx.log(inputs['text'])\n    return inputs\n", inputs)
    assert outcome.outputs == inputs
    assert outcome.logs == ["héllo ✓ 𝄞"]


def test_inputs_that_json_cannot_carry_are_refused_with_123(pool: Pool) -> None:
    outcome = run(pool, "def run(inputs, ctx):\n    return {}\n", {"x": float("nan")})
    assert (outcome.error or {})["code"] == Code.UNAVAILABLE


def test_limits_default_from_settings(settings: Any) -> None:
    settings.SANDBOX_WALL_SECONDS = 7
    settings.SANDBOX_MEMORY_MB = 128
    limits = Limits()
    assert (limits.wall_seconds, limits.memory_mb) == (7.0, 128)
    assert Limits(memory_mb=64).memory_mb == 64
    with pytest.raises(ValueError, match="cpu_seconds"):
        Limits(cpu_seconds=0)


def test_jobs_run_concurrently_from_threads(pool: Pool) -> None:
    code = "import time\ndef run(inputs, ctx):\n    time.sleep(0.3)\n    return {'n': inputs['n']}\n"
    results: dict[int, Outcome] = {}

    def one(n: int) -> None:
        results[n] = pool.run(Job(code=code, inputs={"n": n}, idempotency_key=str(n)))

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {n: o.outputs for n, o in results.items()} == {n: {"n": n} for n in range(4)}
    assert time.monotonic() - started < 1.1  # four 0.3 s sleeps overlapped


def test_a_dead_zygote_is_restarted() -> None:
    import os
    import signal

    pool = Pool()
    try:
        assert run(pool, "def run(inputs, ctx):\n    return {'a': 1}\n").ok
        first = pool.zygote_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        time.sleep(0.05)
        outcome = run(pool, "def run(inputs, ctx):\n    return {'a': 2}\n")
        assert outcome.outputs == {"a": 2}
        assert pool.zygote_pid not in (None, first)
        assert pool.starts == 2
    finally:
        pool.close()


def test_a_job_outliving_its_zygote_does_not_disturb_the_next_one() -> None:
    import os
    import signal

    pool = Pool()
    pool.start()
    try:
        slow: dict[str, Outcome] = {}
        code = "import time\ndef run(inputs, ctx):\n    time.sleep(0.5)\n    return {'slow': True}\n"
        thread = threading.Thread(target=lambda: slow.update(o=run(pool, code)))
        thread.start()
        time.sleep(0.2)
        first = pool.zygote_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        time.sleep(0.05)
        assert run(pool, "def run(inputs, ctx):\n    return {'n': 1}\n").outputs == {"n": 1}
        second = pool.zygote_pid
        thread.join()
        assert slow["o"].outputs == {"slow": True}  # the orphaned job still finished and answered
        assert run(pool, "def run(inputs, ctx):\n    return {'n': 2}\n").outputs == {"n": 2}
        assert pool.zygote_pid == second
        assert pool.starts == 2
    finally:
        pool.close()


def test_a_pool_without_landlock_refuses_to_run_unless_unsafe_is_allowed(caplog: Any) -> None:
    refusing = Pool(_testing_disable=("landlock",))
    try:
        outcome = run(refusing, "def run(inputs, ctx):\n    return {}\n")
        assert not outcome.ok
        assert outcome.error is not None
        assert outcome.error["code"] == Code.UNAVAILABLE
        assert "Landlock" in outcome.error["message"]
        assert "SANDBOX_ALLOW_UNSAFE" in outcome.error["message"]
    finally:
        refusing.close()
    unsafe = Pool(allow_unsafe=True, _testing_disable=("seccomp",))
    try:
        with caplog.at_level("CRITICAL", logger="components.sandbox.pool"):
            assert run(unsafe, "def run(inputs, ctx):\n    return {'ran': True}\n").outputs == {"ran": True}
        assert any("WITHOUT full confinement" in record.getMessage() for record in caplog.records)
    finally:
        unsafe.close()


def test_get_pool_is_one_per_process() -> None:
    assert get_pool() is get_pool()


def test_a_forked_worker_gets_its_own_pool_and_leaves_the_parents_alone(pool: Pool) -> None:
    import os

    parent_zygote = pool.zygote_pid
    assert run(pool, "def run(inputs, ctx):\n    return {}\n").ok
    child = os.fork()
    if child == 0:  # what a prefork Celery worker is
        status = 1
        try:
            mine = get_pool()
            outcome = mine.run(Job(code="def run(inputs, ctx):\n    return {'n': 1}\n", inputs={}, idempotency_key="f"))
            status = 0 if outcome.outputs == {"n": 1} and mine.zygote_pid != parent_zygote else 2
            mine.close()
        finally:
            os._exit(status)
    _, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == 0
    assert pool.zygote_pid == parent_zygote
    assert run(pool, "def run(inputs, ctx):\n    return {'still': True}\n").outputs == {"still": True}
