"""Structured logs: each line emitted while serving a request names that request, its
correlation id, operation and caller; lines parse as JSON; no credential ever reaches them."""

from __future__ import annotations

import asyncio
import datetime
import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import orjson
import pytest

from graph.cli import main
from graph.observability.logging import (
    ContextFilter,
    JsonFormatter,
    RequestIds,
    TextFormatter,
    bound_request,
    configure_logging,
    scrub,
)
from graph.sandbox import RunningSandbox
from graph.sources.identity import CallerIdentity, bound_identity
from tests.gateway.conftest import RunningGateway, token_for

from .conftest import LogCapture, Post, set_fault

BILLS = "query Bills { me { name bills(first: 2) { edges { node { reference } } } } }"
NAME = "query Name { me { name } }"
HEX32 = re.compile(r"[0-9a-f]{32}")


async def test_a_line_logged_during_a_request_carries_its_ids_operation_and_caller(
    post: Post, logs: LogCapture, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, sandbox, "TMF678", down="503")
    reply = await post(BILLS, "customer:cus-000001", {"X-Correlation-ID": "corr-bills-1"})
    assert reply.status == 200
    assert "BACKEND_UNAVAILABLE" in {e["extensions"]["code"] for e in reply.body["errors"]}
    request_id = reply.headers["X-Request-ID"]
    assert HEX32.fullmatch(request_id)
    assert reply.headers["X-Correlation-ID"] == "corr-bills-1"

    mine = logs.of(request_id)
    # The backend failure, logged with its traceback by graph.errors while serving.
    [failure, *_] = [r for r in mine if r["logger"] == "graph.errors"]
    assert failure["level"] == "ERROR"
    assert failure["correlation_id"] == "corr-bills-1"
    assert (failure["subject"], failure["role"], failure["channel"]) == (
        "cus-000001",
        "customer",
        "web",
    )
    assert (failure["operation"], failure["operation_type"]) == ("Bills", "query")
    assert failure["exception_type"] == "BackendUnavailable"
    assert "Traceback" in failure["exception"]
    # One access line per operation, with its outcome and codes.
    [access] = [r for r in mine if r["logger"] == "graph.access"]
    assert access["message"].startswith("query Bills: ")
    assert access["outcome"] in ("partial", "error")
    assert "BACKEND_UNAVAILABLE" in access["error_codes"]
    assert access["duration_ms"] > 0
    assert access["correlation_id"] == "corr-bills-1"


async def test_concurrent_requests_log_under_their_own_ids(
    post: Post, logs: LogCapture, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    # Both requests wait on the same slow, failing backend at the same time.
    await set_fault(http, sandbox, "TMF678", latency_ms=150, error_rate=1.0, error_status=500)
    callers = {f"cus-00000{n}": f"corr-concurrent-{n}" for n in (1, 2, 3)}
    replies = await asyncio.gather(
        *(
            post(BILLS, f"customer:{subject}", {"X-Correlation-ID": correlation})
            for subject, correlation in callers.items()
        )
    )
    spans = []
    for (subject, correlation), reply in zip(callers.items(), replies, strict=True):
        mine = logs.of(reply.headers["X-Request-ID"])
        assert {r["logger"] for r in mine} >= {"graph.errors", "graph.access"}
        assert {r["correlation_id"] for r in mine} == {correlation}
        # Lines logged before the token is verified (a JWKS fetch) name no caller yet.
        assert {r.get("subject") for r in mine} - {None} == {subject}
        assert {r["operation"] for r in mine if r["logger"] != "graph.auth.tokens"} == {"Bills"}
        [access] = [r for r in mine if r["logger"] == "graph.access"]
        ended = datetime.datetime.fromisoformat(access["time"])
        spans.append((ended - datetime.timedelta(milliseconds=access["duration_ms"]), ended))
    # The requests did overlap (else the test would prove nothing about concurrency).
    assert max(start for start, _ in spans) < min(end for _, end in spans)
    # And no line of a request's was logged without its ids.
    for record in logs.records():
        if record.get("correlation_id") in callers.values():
            assert record.get("request_id") in {r.headers["X-Request-ID"] for r in replies}


async def test_each_request_gets_its_own_request_id_in_the_response(
    post: Post, gateway: RunningGateway, http: aiohttp.ClientSession, logs: LogCapture
) -> None:
    first = await post(NAME, "customer:cus-000001")
    second = await post(NAME, "customer:cus-000001")
    assert first.status == second.status == 200
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    # Refusals too: a bad token (401), an oversized body (413), other routes.
    refused = await post(NAME, token="not-a-token")
    assert refused.status == 401
    assert HEX32.fullmatch(refused.headers["X-Request-ID"])
    huge = orjson.dumps({"query": "{ me { name } }", "variables": {"x": "y" * 100_000}})
    json = {"Content-Type": "application/json"}
    async with http.post(f"{gateway.url}/graphql", data=huge, headers=json) as resp:
        assert resp.status == 413
        assert HEX32.fullmatch(resp.headers["X-Request-ID"])
    async with http.get(f"{gateway.url}/healthz") as resp:
        assert HEX32.fullmatch(resp.headers["X-Request-ID"])
    # The access line of the first request names it and its caller.
    [access] = [r for r in logs.of(first.headers["X-Request-ID"]) if r["logger"] == "graph.access"]
    assert access["outcome"] == "ok"
    assert access["error_codes"] == []
    assert access["correlation_id"] == first.headers["X-Correlation-ID"]


async def test_no_credential_reaches_the_logs(
    post: Post,
    logs: LogCapture,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    dev_idp_key: Path,
) -> None:
    token = token_for("customer:cus-000001", dev_idp_key)
    agent = token_for("agent:a1", dev_idp_key)
    await set_fault(http, sandbox, "TMF678", down="503")
    assert (await post(BILLS, token=token)).status == 200
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    assert (await post(NAME, token=forged)).status == 401
    assert (await post(NAME, token=token[: len(token) // 2])).status == 401
    customer = '{ customer(id: "cus-000002") { name } }'
    assert (await post(customer, token=agent)).status == 200
    # And code that logs a credential by mistake, while serving, gets it scrubbed.
    with bound_identity(CallerIdentity(correlation_id="c1", role="customer", user_token=token)):
        logging.getLogger("graph.test").warning(
            "headers %s", {"Authorization": f"Bearer {token}", "X-End-User-Token": agent}
        )
        try:
            raise ValueError(f"refused {forged}")
        except ValueError:
            logging.getLogger("graph.test").exception("token=%s failed", agent)

    written = logs.json.getvalue() + logs.text.getvalue()
    assert "graph.errors" in written  # the failure was logged: there was something to leak
    for secret in (token, agent, forged, token[: len(token) // 2]):
        assert secret not in written
        assert secret.split(".")[-1] not in written  # not even the signature
    assert "[redacted]" in written


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer abc.def.ghi-jkl", "Authorization: [redacted]"),
        ("{'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "{'Authorization': '[redacted]'}"),
        ('{"access_token": "s3cr3t", "expires_in": 300}', '{"access_token": "[redacted]"'),
        ("grant_type=x&client_secret=s3cr3t&scope=y", "client_secret=[redacted]&scope=y"),
        ("X-End-User-Token: abcdef", "X-End-User-Token: [redacted]"),
        ("sent Bearer abcdefghijklmnop0123", "sent Bearer [redacted]"),
        ("jwt eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl end", "jwt [redacted] end"),
        ("POST /events/0123456789abcdefghij ok", "POST /events/[redacted] ok"),
        ("CSM_EVENT_SECRET=0123456789abcdef", "CSM_EVENT_SECRET=[redacted]"),
    ],
)
def test_scrub_removes_credentials(text: str, kept: str) -> None:
    assert kept in scrub(text)
    for secret in ("abc.def", "dXNlcjpw", "s3cr3t", "abcdef", "c2lnbmF0", "0123456789abcdef"):
        assert secret not in scrub(text)


@pytest.mark.parametrize(
    "text",
    ["token expired", "the bearer token is invalid", "max_tokens=2000", "customer cus-000001"],
)
def test_scrub_leaves_ordinary_text_alone(text: str) -> None:
    assert scrub(text) == text


def _format(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    ContextFilter().filter(record)
    return formatter.format(record)


def test_json_lines_have_the_documented_fields_and_only_known_ones() -> None:
    logger = logging.getLogger("graph.sample")
    record = logger.makeRecord(
        "graph.sample", logging.WARNING, __file__, 1, "slow %s: %d ms", ("TMF629", 12), None,
        extra={"outcome": "ok", "codes": ["A", "B"], "when": datetime.date(2026, 1, 2)},
    )  # fmt: skip
    line = _format(JsonFormatter(), record)
    assert "\n" not in line
    entry = orjson.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "graph.sample"
    assert entry["message"] == "slow TMF629: 12 ms"
    assert entry["outcome"] == "ok"
    assert entry["codes"] == ["A", "B"]
    assert entry["when"] == "2026-01-02"
    assert entry["time"].endswith("Z")
    assert datetime.datetime.fromisoformat(entry["time"]).tzinfo is not None
    # Outside a request no context field is made up.
    assert not {"request_id", "correlation_id", "subject", "operation"} & entry.keys()


def test_exception_info_is_one_line_of_json_and_scrubbed() -> None:
    logger = logging.getLogger("graph.sample")
    try:
        raise RuntimeError("boom with Bearer abcdefghijklmnopqrstuv\nsecond line")
    except RuntimeError:
        import sys

        record = logger.makeRecord(
            "graph.sample", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = _format(JsonFormatter(), record)
    assert line.count("\n") == 0
    entry = orjson.loads(line)
    assert entry["exception_type"] == "RuntimeError"
    assert "second line" in entry["exception"]
    assert "abcdefghijklmnopqrstuv" not in line


def test_text_lines_carry_the_ids_too() -> None:
    agent = CallerIdentity(correlation_id="corr-2", role="agent", subject="a1")
    with bound_request(RequestIds("req-1", "corr-1")), bound_identity(agent):
        record = logging.getLogger("x").makeRecord("x", logging.INFO, "f", 1, "hi", (), None)
        line = _format(TextFormatter(), record)
    # The identity's correlation id (what backends got) wins over the request's.
    assert "[request=req-1 correlation=corr-2 subject=a1] hi" in line
    assert "csm_context" not in record.__dict__


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger without handlers (as in a fresh process), restored afterwards (in the
    test's body: pytest adds its own handlers around it)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    for handler in handlers:
        root.removeHandler(handler)
    try:
        yield root
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def test_auto_format_is_text_on_a_terminal_and_json_elsewhere() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    with bare_root() as root:
        assert configure_logging("auto", "INFO", terminal) is not None
        logging.getLogger("graph.sample").info("on a terminal")
        logging.getLogger("graph.sample").debug("below the level")
        assert configure_logging("auto", "DEBUG", pipe, force=True) is not None
        logging.getLogger("graph.sample").debug("into a pipe")
        assert len(root.handlers) == 1
    assert " INFO graph.sample on a terminal" in terminal.getvalue()
    assert "below the level" not in terminal.getvalue()
    assert orjson.loads(pipe.getvalue())["message"] == "into a pipe"
    assert "on a terminal" not in pipe.getvalue()  # the first handler was replaced


def test_configure_leaves_an_embedders_handlers_alone() -> None:
    theirs = logging.StreamHandler(io.StringIO())
    with bare_root() as root:
        root.addHandler(theirs)
        assert configure_logging("json", "DEBUG", io.StringIO()) is None
        assert root.handlers == [theirs]


@pytest.mark.parametrize(
    ("variable", "value"), [("CSM_LOG_FORMAT", "xml"), ("CSM_LOG_LEVEL", "LOUD")]
)
def test_the_cli_refuses_unknown_log_settings(
    variable: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["schema", "export", "-o", str(tmp_path / "s.graphql")]) == 2
    assert variable in capsys.readouterr().err
    assert not (tmp_path / "s.graphql").exists()
