"""The gateway's benchmark: req/s, latency, backend requests and memory per scenario, with
the gateway's optimizations on and off.

    .venv/bin/python bench/run.py            # the full run docs/performance.md reports (~7 min)
    .venv/bin/python bench/run.py --quick    # a smoke check (~2 min), 3 s per run

What it does: starts ``csm-graph sandbox`` (``--customers``, loopback) and two gateways
(``csm-graph serve``, one process each, ``CSM_TMF_BASE_URL`` pointing at the sandbox, the
sandbox's development IdP trusted with a key file of this run): one as configured
(``CSM_OPTIMIZATIONS=1``) and one with its optimizations switched off (``CSM_OPTIMIZATIONS=0``,
the stock strawberry path). Pinning, with ``taskset`` where the machine has the cores: the
sandbox on the first core, both gateways on the second, ``wrk`` on the third -- on a 2-core
machine ``wrk`` shares the sandbox's core (it costs far less per request than the gateway).
Only one gateway is driven at a time; the other idles.

For each backend latency (``--latencies``, set with the sandbox's ``PUT /admin/faults/*``) and
each scenario, it first sends one request and checks its answer, warms up, then drives the
gateway with ``wrk`` (``bench/graphql.lua``), optimized and stock back to back so that both
see the same machine. It reads the gateway's ``/metrics`` before and after
(``csm_backend_requests_total`` over ``csm_graphql_requests_total``), its CPU time and RSS
from ``/proc``; then a one-connection run gives the unloaded latency. A response counts as
failed unless it is a 200 without ``errors``. Each scenario is one caller, so the gateways'
rate limits are raised (``CSM_RATE_LIMITS``).

Scenarios (``--scenarios``):

- ``customer-360``: tests/gateway/test_customer360.py's ``ME`` query, as customers
  (``web`` tokens) cus-000001..cus-000008 in turn;
- ``list20``: an agent (``agent-desktop``) lists 20 customers with their accounts and latest
  3 bills;
- ``catalogue``: anonymous browse of the public catalogue, 20 product offerings with prices;
- ``payBill``: customers pay 0.01 of an open bill with a stored payment method, a fresh
  idempotency key per request, in turn over bills found at start-up (an agent query).

Tokens come from ``csm-graph token``. Results go to stdout (a Markdown table) and to JSON
(``--json``; default ``bench/results/<date>.json``, ``<date>-quick.json`` with ``--quick``).
Needs: Linux (``/proc``), ``wrk`` (Debian package ``wrk``), ``taskset`` (optional).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gateway.test_customer360 import ME  # noqa: E402  (the test's query, as it is)

__all__ = ["main"]

LUA = Path(__file__).with_name("graphql.lua")
TICKS = os.sysconf("SC_CLK_TCK")
MODES = ("optimized", "stock")
SCENARIOS = ("customer-360", "list20", "catalogue", "payBill")
PAY_AMOUNT = "0.01"
TOKEN_TTL = 6 * 3600

LIST20 = """query List20 { customers(first: 20) { edges { node {
  reference name status
  billingAccounts {
    reference name outstanding { amount currency }
    bills(first: 3) { totalCount edges { node {
      reference billNo billDate state amountDue { amount currency } remainingAmount { amount }
    } } }
  }
} } } }"""

CATALOGUE = """query Catalogue { productOfferings(first: 20) { totalCount edges { node {
  id reference name description lifecycleStatus isBundle
  categories { reference name }
  prices { name priceType recurringChargePeriod price { amount currency } }
} } } }"""

PAY = """mutation PayBill($input: PayBillInput!) { payBill(input: $input) {
  payment { reference status totalAmount { amount currency } }
  bills { reference state remainingAmount { amount } }
  account { reference outstanding { amount } }
  errors { code message field }
} }"""

# The agent's look for payable bills: customers with an active payment method and open bills.
CANDIDATES = """query PayCandidates($n: Int!) { customers(first: $n) { edges { node {
  reference
  paymentMethods { id status validUntil }
  billingAccounts { bills(first: 12) { edges { node { id state remainingAmount { amount } } } } }
} } } }"""

PAYABLE = frozenset({"NEW", "ON_HOLD", "SENT", "PARTIALLY_PAID"})
KEY_PLACEHOLDER = "BENCHIDEMPOTENCYKEY"
READ_CUSTOMERS = 20  # list20's customers (customer-360's are the first 8 of them)
RATE_LIMITS = ",".join(f"{c}=100000000/100000000" for c in ("web", "agent-desktop", "anonymous"))


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cores() -> tuple[list[int], bool]:
    """(sandbox core, gateway core, wrk core), and whether ``taskset`` pins them."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2 or not shutil.which("taskset"):
        return [], False
    wrk_core = available[2] if len(available) > 2 else available[0]
    return [available[0], available[1], wrk_core], True


def pinned(cmd: list[str], core: int | None) -> list[str]:
    return ["taskset", "-c", str(core), *cmd] if core is not None else cmd


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (a ``serve --workers N`` parent and its workers)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in task.read_text().split()]
    return pids


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its descendants, user + system."""
    total = 0
    for member in family(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants."""
    total = 0
    for member in family(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024 if total else float("nan")


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return bytes(response.read())


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                http("GET", self.url + path, timeout=2)
                return
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-3000:]
        sys.exit(f"bench: the {self.name} did not start (log {self.log}):\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(
    name: str, cmd: list[str], env: dict[str, str], core: int | None, workdir: Path, url: str
) -> Service:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned(cmd, core), env=env, stdout=out, stderr=subprocess.STDOUT, cwd=workdir
        )
    return Service(name, proc, url, log)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without its csm-graph settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSM_")}
    return env | extra


def metric_total(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


# --- scenarios ----------------------------------------------------------------------------------


@dataclass
class Request:
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    requests: list[Request]
    idempotent: bool = True  # False: each request needs a fresh idempotency key
    note: str = ""


class Tokens:
    """Development tokens from ``csm-graph token``, minted in parallel and kept."""

    def __init__(self, exe: str, env: dict[str, str]) -> None:
        self.exe, self.env = exe, env
        self.known: dict[tuple[str, str, str | None], str] = {}

    def mint(self, wanted: list[tuple[str, str, str | None]]) -> None:
        todo = [w for w in dict.fromkeys(wanted) if w not in self.known]
        procs = []
        for role, channel, customer in todo:
            cmd = [self.exe, "token", "--role", role, "--channel", channel, "--ttl", str(TOKEN_TTL)]
            if customer:
                cmd += ["--customer", customer]
            procs.append(subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, text=True))
        for want, proc in zip(todo, procs, strict=True):
            out, _ = proc.communicate(timeout=60)
            if proc.returncode != 0:
                sys.exit(f"bench: csm-graph token {want} failed")
            self.known[want] = out.strip()

    def headers(self, role: str, channel: str, customer: str | None = None) -> dict[str, str]:
        self.mint([(role, channel, customer)])
        return {"Authorization": "Bearer " + self.known[(role, channel, customer)]}


def gql(url: str, request: Request) -> dict[str, Any]:
    raw = http("POST", url + "/graphql", request.body, request.headers, timeout=120)
    result: dict[str, Any] = json.loads(raw)
    return result


def failure(result: dict[str, Any]) -> str | None:
    """Why an answer is not a success: top-level errors, or a payload's user errors."""
    if result.get("errors"):
        return json.dumps(result["errors"])[:400]
    for value in (result.get("data") or {}).values():
        if isinstance(value, dict) and value.get("errors"):
            return json.dumps(value["errors"])[:400]
    return None


def pay_candidates(url: str, tokens: Tokens, customers: int, want: int) -> list[dict[str, Any]]:
    """Open bills (largest remaining first, at least 1.00) of customers with a usable stored
    payment method: ``want`` customers, up to 4 bills each -- none of the first
    :data:`READ_CUSTOMERS`, whom customer-360 and list20 read: thousands of payments would make
    their later runs measure other data (longer payment lists, bigger bills)."""
    agent = tokens.headers("agent", "agent-desktop")
    request = Request({"query": CANDIDATES, "variables": {"n": min(customers, 100)}}, agent)
    if customers <= READ_CUSTOMERS:
        sys.exit(f"bench: payBill needs more than {READ_CUSTOMERS} customers (--customers)")
    result = gql(url, request)
    if failure(result):
        sys.exit(f"bench: looking for payable bills failed: {failure(result)}")
    now = datetime.datetime.now(datetime.UTC).isoformat()
    found: list[dict[str, Any]] = []
    for edge in result["data"]["customers"]["edges"][READ_CUSTOMERS:]:
        node = edge["node"]
        methods = [
            m["id"]
            for m in node["paymentMethods"]
            if str(m.get("status") or "active").lower() == "active"
            and (not m.get("validUntil") or m["validUntil"] > now)
        ]
        bills = [
            (float(b["node"]["remainingAmount"]["amount"]), b["node"]["id"])
            for account in node["billingAccounts"]
            for b in account["bills"]["edges"]
            if b["node"]["state"] in PAYABLE and b["node"]["remainingAmount"]
        ]
        bills = sorted((b for b in bills if b[0] >= 1.0), reverse=True)[:4]
        if methods and bills:
            found.append({"customer": node["reference"], "method": methods[0], "bills": bills})
        if len(found) == want:
            break
    if not found:
        sys.exit("bench: no customer with open bills and a usable payment method found")
    return found


def scenarios(url: str, tokens: Tokens, args: argparse.Namespace) -> dict[str, Scenario]:
    wanted = set(args.scenarios)
    built: dict[str, Scenario] = {}
    if "customer-360" in wanted:
        ids = [f"cus-{n:06d}" for n in range(1, min(args.customers, 8) + 1)]
        tokens.mint([("customer", "web", c) for c in ids])
        built["customer-360"] = Scenario(
            "customer-360",
            [Request({"query": ME}, tokens.headers("customer", "web", c)) for c in ids],
            note=f"{len(ids)} customers in turn",
        )
    if "list20" in wanted:
        agent = tokens.headers("agent", "agent-desktop")
        built["list20"] = Scenario("list20", [Request({"query": LIST20}, agent)])
    if "catalogue" in wanted:
        built["catalogue"] = Scenario("catalogue", [Request({"query": CATALOGUE})])
    if "payBill" in wanted:
        found = pay_candidates(url, tokens, args.customers, args.pay_customers)
        tokens.mint([("customer", "web", f["customer"]) for f in found])
        requests = []
        for entry in found:
            headers = tokens.headers("customer", "web", entry["customer"])
            for _, bill in entry["bills"]:
                variables = {
                    "input": {
                        "bills": [{"bill": bill, "amount": PAY_AMOUNT}],
                        "paymentMethod": entry["method"],
                        "idempotencyKey": KEY_PLACEHOLDER,
                    }
                }
                requests.append(Request({"query": PAY, "variables": variables}, headers))
        capacity = sum(b[0] for f in found for b in f["bills"]) / float(PAY_AMOUNT)
        built["payBill"] = Scenario(
            "payBill",
            requests,
            idempotent=False,
            note=f"{len(requests)} bills of {len(found)} customers, room for {capacity:,.0f} "
            "payments",
        )
    return built


# --- driving ------------------------------------------------------------------------------------


def lua_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def lua_data(scenario: Scenario, run: str) -> str:
    lines = ["return {", '  path = "/graphql",', f'  run = "{run}",']
    if not scenario.idempotent:
        lines.append(f'  key = "{KEY_PLACEHOLDER}",')
    lines.append("  requests = {")
    for request in scenario.requests:
        headers = {"Content-Type": "application/json", **request.headers}
        pairs = ", ".join(f"[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items())
        lines.append(
            f"    {{ headers = {{ {pairs} }}, body = {lua_string(json.dumps(request.body))} }},"
        )
    lines += ["  },", "}"]
    return "\n".join(lines) + "\n"


def fresh(scenario: Scenario, request: Request) -> Request:
    """The request as sent once outside wrk: a fresh idempotency key where one is needed."""
    if scenario.idempotent:
        return request
    body = json.dumps(request.body).replace(KEY_PLACEHOLDER, "check-" + secrets.token_hex(8))
    return Request(json.loads(body), request.headers)


def run_wrk(
    url: str,
    scenario: Scenario,
    duration: float,
    args: argparse.Namespace,
    workdir: Path,
    core: int | None,
    connections: int,
) -> dict[str, Any]:
    run = secrets.token_hex(6)
    data = workdir / f"{scenario.name}-{run}.lua"
    data.write_text(lua_data(scenario, run), encoding="utf-8")
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        url + "/graphql",
        "--",
        str(data),
    ]
    done = subprocess.run(pinned(cmd, core), capture_output=True, text=True, check=False)
    data.unlink()
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        sys.exit(f"bench: wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return result


def counters(url: str) -> tuple[float, float]:
    text = http("GET", url + "/metrics").decode()
    return (
        metric_total(text, "csm_backend_requests_total"),
        metric_total(text, "csm_graphql_requests_total"),
    )


def settled(url: str, limit: float = 120.0) -> tuple[float, float]:
    """The counters once in-flight requests and queued backend writes (audit records) are
    done: unchanged over a quarter of a second. An agent's list20 queues ~20 access records
    per operation, which drain after the run: the next scenario must not pay for them."""
    last = counters(url)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = counters(url)
        if now == last:
            break
        last = now
    return last


def measure(
    gateway: Service,
    scenario: Scenario,
    args: argparse.Namespace,
    workdir: Path,
    core: int | None,
) -> dict[str, Any]:
    probe = fresh(scenario, scenario.requests[0])
    try:
        why = failure(gql(gateway.url, probe))
    except (OSError, urllib.error.HTTPError) as exc:
        why = str(exc)
    if why:
        return {"error": why}
    if args.warmup > 0:
        run_wrk(gateway.url, scenario, args.warmup, args, workdir, core, args.connections)
    backend0, graphql0 = settled(gateway.url)
    cpu0 = cpu_seconds(gateway.proc.pid)
    result = run_wrk(gateway.url, scenario, args.duration, args, workdir, core, args.connections)
    backend1, graphql1 = settled(gateway.url)
    cpu = cpu_seconds(gateway.proc.pid) - cpu0
    operations = graphql1 - graphql0
    per_worker = getattr(args, "workers", 1) > 1
    if per_worker:
        # Each worker has its own /metrics (whichever answers): count wrk's requests instead,
        # and leave backend requests per operation unknown.
        operations = result["requests"]
    seconds = result["duration_us"] / 1e6
    unloaded: dict[str, Any] = {}
    if args.unloaded > 0:  # one connection: a request's latency when nothing else runs
        unloaded = run_wrk(gateway.url, scenario, args.unloaded, args, workdir, core, 1)
    return {
        "requests": result["requests"],
        "rps": result["requests"] / seconds if seconds else 0.0,
        "p50_ms": result["p50_us"] / 1000,
        "p90_ms": result["p90_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
        "failed": result["failed"],
        "socket_errors": result["socket_errors"],
        "timeouts": result["timeouts"],
        "failure_sample": result["sample"] or None,
        "graphql_requests": operations,
        "backend_per_request": (
            (backend1 - backend0) / operations if operations and not per_worker else None
        ),
        "gateway_cpu_ms_per_request": cpu / operations * 1000 if operations else None,
        "gateway_rss_mib": rss_mib(gateway.proc.pid),
        "unloaded_p50_ms": unloaded["p50_us"] / 1000 if unloaded else None,
        "unloaded_p99_ms": unloaded["p99_us"] / 1000 if unloaded else None,
        "unloaded_failed": unloaded["failed"] + unloaded["socket_errors"] if unloaded else 0,
    }


def set_latency(sandbox: str, ms: float) -> None:
    http("DELETE", sandbox + "/admin/faults")
    if ms:
        http("PUT", sandbox + "/admin/faults/*", {"latency_ms": ms})


# --- report -------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


COLUMNS = (
    "scenario", "backend latency", "req/s", "p50 ms", "p99 ms", "unloaded p50 ms",
    "backend req / op", "gateway RSS MiB", "gateway CPU ms / op",
    "stock req/s", "stock unloaded p50 ms", "stock CPU ms / op", "req/s ratio", "failed",
)  # fmt: skip


def failures(run: dict[str, Any]) -> int:
    return int(run["failed"] + run["socket_errors"] + run["unloaded_failed"])


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table: the optimized gateway's figures, then the stock one's."""
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        opt, stock = row["optimized"], row["stock"]
        where = [row["scenario"], f"{row['latency_ms']:g} ms"]
        if "error" in opt:
            out.append("| " + " | ".join([*where, f"not run: {opt['error']}"]) + " |")
            continue
        ok = "error" not in stock
        cells = [
            *where,
            fmt(opt["rps"]),
            fmt(opt["p50_ms"], 1),
            fmt(opt["p99_ms"], 1),
            fmt(opt["unloaded_p50_ms"], 1),
            fmt(opt["backend_per_request"], 1),
            fmt(opt["gateway_rss_mib"]),
            fmt(opt["gateway_cpu_ms_per_request"], 1),
            fmt(stock["rps"]) if ok else "—",
            fmt(stock["unloaded_p50_ms"], 1) if ok else "—",
            fmt(stock["gateway_cpu_ms_per_request"], 1) if ok else "—",
            fmt(opt["rps"] / stock["rps"], 2) if ok and stock["rps"] else "—",
            f"{failures(opt)} / {failures(stock) if ok else '—'}",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory = int(first.split()[1]) // 1024
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_mib": memory,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def git_state() -> dict[str, Any]:
    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the gateway, optimized and stock (see the module docstring)."
    )
    parser.add_argument("--quick", action="store_true", help="a smoke check: 3 s per scenario")
    parser.add_argument("--duration", type=float, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per run (default 3)")
    parser.add_argument(
        "--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS), metavar="NAME",
        help=f"some of {', '.join(SCENARIOS)} (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--latencies", nargs="+", type=float, default=[0.0, 10.0], metavar="MS",
        help="backend latencies in ms (default: 0 10)",
    )  # fmt: skip
    parser.add_argument("--customers", type=int, default=1000, help="sandbox customers")
    parser.add_argument(
        "--workers", type=int, default=1,
        help="gateway processes (csm-graph serve --workers N; CPU and RSS summed over them)",
    )  # fmt: skip
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--pay-customers", type=int, default=8, help="customers paying bills")
    parser.add_argument(
        "--modes", nargs="+", choices=MODES, default=list(MODES),
        help="gateways to drive (default: both)",
    )  # fmt: skip
    parser.add_argument(
        "--gateway-env", action="append", default=[], metavar="NAME=VALUE",
        help="an extra setting for both gateways (repeatable), e.g. CSM_REDIS_URL=redis://…",
    )  # fmt: skip
    parser.add_argument(
        "--unloaded", type=float,
        help="seconds of a one-connection run per scenario for the unloaded latency "
        "(default 5; 0: none)",
    )  # fmt: skip
    parser.add_argument("--note", default="", help="a remark kept with the results (JSON)")
    parser.add_argument("--json", type=Path, help="where to write the results")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 3.0 if args.quick else 10.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 3.0
    if args.unloaded is None:
        args.unloaded = 2.0 if args.quick else 5.0
    if args.json is None:
        stamp = datetime.date.today().isoformat() + ("-quick" if args.quick else "")
        args.json = Path(__file__).with_name("results") / f"{stamp}.json"
    return args


@contextlib.contextmanager
def services(
    args: argparse.Namespace, workdir: Path, core: list[int]
) -> Iterator[tuple[Service, dict[str, Service], dict[str, str]]]:
    exe = str(Path(sys.executable).with_name("csm-graph"))
    key = workdir / "idp" / "dev-idp-key.pem"
    base = clean_env({"CSM_DEV_IDP_KEY": str(key)})
    extra = dict(item.split("=", 1) for item in args.gateway_env)
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    cmd = [exe, "sandbox", "--host", "127.0.0.1", "--port", str(port)]
    started: list[Service] = []
    try:
        sandbox = start(
            "sandbox",
            [*cmd, "--customers", str(args.customers)],
            base,
            core[0] if core else None,
            workdir,
            sandbox_url,
        )
        started.append(sandbox)
        sandbox.wait_ready("/admin/stats")
        gateways: dict[str, Service] = {}
        workers = getattr(args, "workers", 1)
        serve = [exe, "serve", "--host", "127.0.0.1"]
        for mode in args.modes:
            gport = free_port()
            env = base | {
                "CSM_TMF_BASE_URL": sandbox_url,
                "CSM_DEV_IDP": "1",
                "CSM_DEV_IDP_URL": sandbox_url,
                "CSM_EVENTS": "0",
                "CSM_AUDIT_SPILL": str(workdir / f"audit-spill-{mode}.jsonl"),
                "CSM_OPTIMIZATIONS": "1" if mode == "optimized" else "0",
                # One caller per scenario: the per-caller rate limits would refuse the load.
                "CSM_RATE_LIMITS": RATE_LIMITS,
                **extra,
            }
            gateway = start(
                f"gateway-{mode}",
                [*serve, "--port", str(gport), "--workers", str(workers)],
                env,
                core[1] if core and workers == 1 else None,  # N workers: every core
                workdir,
                f"http://127.0.0.1:{gport}",
            )
            started.append(gateway)
            gateways[mode] = gateway
        for gateway in gateways.values():
            gateway.wait_ready("/readyz")
        yield sandbox, gateways, base
    finally:
        for service in reversed(started):
            service.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is needed (apt-get install wrk)")
    core, is_pinned = cores()
    rows: list[dict[str, Any]] = []
    started_at = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory(prefix="csm-bench-") as tmp:
        workdir = Path(tmp)
        with services(args, workdir, core) as (sandbox, gateways, env):
            exe = str(Path(sys.executable).with_name("csm-graph"))
            tokens = Tokens(exe, env)
            first = next(iter(gateways.values()))
            built = scenarios(first.url, tokens, args)
            for name in args.scenarios:
                if built[name].note:
                    print(f"{name}: {built[name].note}", file=sys.stderr)
            wrk_core = core[2] if core else None
            for latency in args.latencies:
                set_latency(sandbox.url, latency)
                for name in args.scenarios:
                    row: dict[str, Any] = {"scenario": name, "latency_ms": latency}
                    for mode in MODES:
                        if mode not in gateways:
                            row[mode] = {"error": "not driven (--modes)"}
                            continue
                        print(f"{name} at {latency:g} ms, {mode} ...", file=sys.stderr)
                        row[mode] = measure(gateways[mode], built[name], args, workdir, wrk_core)
                    rows.append(row)
            set_latency(sandbox.url, 0)
            sandbox_rss = rss_mib(sandbox.proc.pid)

    print()
    print(table(rows))
    notes = [
        f"wrk -t{args.threads} -c{args.connections}, {args.duration:g} s per run after "
        f"{args.warmup:g} s of warm-up; sandbox with {args.customers:,} customers "
        f"(RSS at the end {sandbox_rss:.0f} MiB)",
        (
            f"pinned: sandbox on core {core[0]}, gateways on core {core[1]}, wrk on core {core[2]}"
            if is_pinned
            else "not pinned (taskset missing or one core)"
        ),
        f"unloaded: wrk -c1 for {args.unloaded:g} s; stock: the gateway with "
        "CSM_OPTIMIZATIONS=0; failed: non-200 or `errors` answers (optimized / stock)",
    ]
    for note in notes:
        print(f"- {note}")
    report = {
        "date": started_at.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": machine(),
        "git": git_state(),
        "note": args.note,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "customers": args.customers,
            "pinning": {"sandbox": core[0], "gateway": core[1], "wrk": core[2]} if core else None,
            "gateway_env": args.gateway_env,
        },
        "scenarios": {
            name: {"note": s.note, "requests": len(s.requests)} for name, s in built.items()
        },
        "sandbox_rss_mib": sandbox_rss,
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"- results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
