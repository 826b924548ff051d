"""Memory under sustained load: does the gateway's (or the sandbox's) RSS grow?

    .venv/bin/python bench/memory.py                       # 10 minutes, 100,000 customers
    .venv/bin/python bench/memory.py --duration 60 --customers 1000   # a quick look

Starts ``csm-graph sandbox --customers N`` and one gateway (``csm-graph serve``, pinned like
bench/run.py's), warms a fixed set of callers (``--callers`` customers: their records are
materialized at the sandbox once, so that growth there means a leak, not new customers), then
drives a mix for ``--duration`` seconds with ``wrk`` -- customer-360 as those customers, an
analyst's list20, the anonymous catalogue, in turn -- sampling both processes' RSS every
``--every`` seconds. It prints the samples and a verdict line: RSS at the start of the measured
run, at the end, the peak, and the growth over the second half (MiB/min; the first half lets
caches and pools fill). ``--gateway-env NAME=VALUE`` configures the gateway (e.g.
``CSM_ENTITY_CACHE=1``). Results as JSON with ``--json``.

Reads only: payments would grow the sandbox's data (and so its RSS) by design.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, too

from bench.run import (
    CATALOGUE,
    LIST20,
    LUA,
    Request,
    Scenario,
    cores,
    lua_data,
    pinned,
    rss_mib,
    services,
)
from graph.auth.devidp import load_or_create_key, mint
from tests.gateway.test_customer360 import ME


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--callers", type=int, default=200, help="customers in the mix")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--gateway-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    args.modes = ["optimized"]  # what bench.run.services starts
    return args


def mixed(key_path: Path, callers: int, customers: int) -> Scenario:
    """customer-360s of ``callers`` customers spread over the dataset, with an analyst's list20
    and an anonymous catalogue browse after every 8 of them."""
    key = load_or_create_key(key_path)
    step = max(1, customers // callers)
    ids = [f"cus-{n:06d}" for n in range(1, customers + 1, step)][:callers]
    # An analyst, not an agent: an agent's reads are recorded at the backend (TMF683), which
    # grows the sandbox's data by design.
    token = mint(key, role="analyst", channel="agent-desktop", subject="bench", ttl_seconds=21600)
    analyst = {"Authorization": "Bearer " + token}
    requests: list[Request] = []
    for n, customer in enumerate(ids):
        token = mint(key, role="customer", channel="web", customer_id=customer,
                     subject=customer, ttl_seconds=6 * 3600)  # fmt: skip
        requests.append(Request({"query": ME}, {"Authorization": "Bearer " + token}))
        if n % 8 == 7:
            requests.append(Request({"query": LIST20}, analyst))
            requests.append(Request({"query": CATALOGUE}))
    return Scenario("memory-mix", requests)


def drive(url: str, scenario: Scenario, seconds: float, connections: int, workdir: Path,
          core: int | None) -> dict[str, Any]:  # fmt: skip
    data = workdir / "mix.lua"
    data.write_text(lua_data(scenario, "memory"), encoding="utf-8")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
           "-s", str(LUA), url + "/graphql", "--", str(data)]  # fmt: skip
    done = subprocess.run(pinned(cmd, core), capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        sys.exit(f"bench: wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return result


def slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares MiB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if not var:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in samples) / var * 60


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    core, _ = cores()
    with tempfile.TemporaryDirectory(prefix="csm-memory-") as tmp:
        workdir = Path(tmp)
        with services(args, workdir, core) as (sandbox, gateways, _):
            gateway = gateways["optimized"]
            scenario = mixed(workdir / "idp" / "dev-idp-key.pem", args.callers, args.customers)
            wrk_core = core[2] if core else None
            print(f"warming {args.callers} callers ...", file=sys.stderr)
            drive(gateway.url, scenario, 20, args.connections, workdir, wrk_core)
            samples: list[dict[str, float]] = []
            start = time.monotonic()
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    samples.append({
                        "t": round(time.monotonic() - start, 1),
                        "gateway_mib": round(rss_mib(gateway.proc.pid), 1),
                        "sandbox_mib": round(rss_mib(sandbox.proc.pid), 1),
                    })  # fmt: skip
                    stop.wait(args.every)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            result = drive(gateway.url, scenario, args.duration, args.connections, workdir,
                           wrk_core)  # fmt: skip
            stop.set()
            sampler.join()
            samples.append({
                "t": round(time.monotonic() - start, 1),
                "gateway_mib": round(rss_mib(gateway.proc.pid), 1),
                "sandbox_mib": round(rss_mib(sandbox.proc.pid), 1),
            })  # fmt: skip
    half = samples[len(samples) // 2 :]
    report: dict[str, Any] = {
        "customers": args.customers,
        "callers": args.callers,
        "duration_s": args.duration,
        "requests": result["requests"],
        "rps": round(result["requests"] / (result["duration_us"] / 1e6), 1),
        "failed": result["failed"] + result["socket_errors"],
        "gateway_env": args.gateway_env,
        "samples": samples,
    }
    for who in ("gateway", "sandbox"):
        series = [s[f"{who}_mib"] for s in samples]
        report[who] = {
            "start_mib": series[0],
            "end_mib": series[-1],
            "peak_mib": max(series),
            "second_half_mib_per_min": round(slope([(s["t"], s[f"{who}_mib"]) for s in half]), 2),
        }
    for s in samples:
        print(f"{s['t']:7.1f} s  gateway {s['gateway_mib']:7.1f} MiB  sandbox "
              f"{s['sandbox_mib']:7.1f} MiB")  # fmt: skip
    summary = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
