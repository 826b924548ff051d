"""Benchmark the TMF sandbox: start-up time and memory, and CPU per request under load.

The sandbox must never be the bottleneck of the gateway's benchmarks. This starts
``csm-graph sandbox`` as its own process (pinned to core 0 where possible), warms a set of
customers, then drives it with ``wrk`` (pinned to core 1) through request mixes -- GET by id and
filtered lists of up to 50 items -- and reports requests/s, latency percentiles and the
sandbox's CPU time per request (from /proc), plus its RSS.

Usage: python bench/sandbox_bench.py [--customers 100000] [--duration 10] [--connections 16]
Needs: wrk (Debian package ``wrk``), Linux /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.loads(response.read())


def pinned(cmd: list[str], core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *cmd]
    return cmd


def wrk(base: str, paths: list[str], duration: int, connections: int) -> dict[str, float]:
    listed = ",".join(json.dumps(p) for p in paths)
    lua = (
        f"paths = {{{listed}}}\ni = 0\nrequest = function()\n  i = i + 1\n"
        "  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, base]
    out = subprocess.run(pinned(cmd, 1), capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--warm", type=int, default=500, help="customers to materialize first")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    exe = str(Path(sys.executable).with_name("csm-graph"))
    cmd = [exe, "sandbox", "--port", str(port), "--customers", str(args.customers)]
    started = time.perf_counter()
    proc = subprocess.Popen(pinned(cmd, 0), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                get(f"{base}/admin/stats")
                break
            except OSError:
                if proc.poll() is not None:
                    sys.exit("the sandbox exited")
                time.sleep(0.05)
        startup = time.perf_counter() - started
        rss_start = rss_mib(proc.pid)

        rng = random.Random(1)
        sample = sorted(rng.sample(range(1, args.customers + 1), min(args.warm, args.customers)))
        cus = "/tmf-api/customerManagement/v4/customer"
        ba = "/tmf-api/accountManagement/v4/billingAccount"
        cb = "/tmf-api/customerBillManagement/v4/customerBill"
        acbr = "/tmf-api/customerBillManagement/v4/appliedCustomerBillingRate"
        prd = "/tmf-api/productInventory/v4/product"
        by_id: list[str] = []
        lists: list[str] = []
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        for index in sample:
            cid = f"cus-{index:06d}"
            accounts = get(f"{base}{ba}?relatedParty.id={cid}")
            by_id.append(f"{cus}/{cid}")
            for account in accounts:
                bills = get(f"{base}{cb}?billingAccount.id={account['id']}&limit=50")
                by_id.append(f"{cb}/{bills[0]['id']}")
                lists.append(f"{cb}?billingAccount.id={account['id']}&limit=50")
                ids = ",".join(b["id"] for b in bills[:12])
                lists.append(f"{acbr}?bill.id={ids}&limit=50")
            lists.append(f"{prd}?relatedParty.id={cid}&limit=50")
        warm_cpu = (cpu_seconds(proc.pid) - cpu0) / len(sample) * 1000
        warm_wall = (time.perf_counter() - t0) / len(sample) * 1000
        rss_warm = rss_mib(proc.pid)

        rows = []
        for name, paths in (("GET by id", by_id), ("filtered list (<= 50 items)", lists)):
            before = cpu_seconds(proc.pid)
            result = wrk(base, paths, args.duration, args.connections)
            used = cpu_seconds(proc.pid) - before
            rows.append((name, result, used / result["requests"] * 1000))
        rss_end = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)

    print(f"customers: {args.customers:,}; start-up {startup:.2f} s, RSS {rss_start:.0f} MiB")
    print(
        f"first touch of a customer (materialize + 2-7 requests): {warm_cpu:.1f} ms CPU, "
        f"{warm_wall:.1f} ms wall; RSS after {len(sample)} customers {rss_warm:.0f} MiB, "
        f"at the end {rss_end:.0f} MiB"
    )
    print()
    print("| request mix | req/s | p50 ms | p99 ms | sandbox CPU per request | non-2xx |")
    print("|---|---|---|---|---|---|")
    for name, result, cpu_ms in rows:
        print(
            f"| {name} | {result['rps']:.0f} | {result['p50']:.2f} | {result['p99']:.2f} "
            f"| {cpu_ms:.3f} ms | {result['errors']} |"
        )


if __name__ == "__main__":
    main()
