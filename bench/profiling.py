"""Profile one benchmark scenario: where the gateway's CPU goes.

Starts the sandbox (a process, pinned like bench/run.py's), runs the gateway *in this
process* under cProfile, drives it with ``wrk`` for a while and prints the functions with the
most own and cumulative time; ``--out`` keeps the profile for ``snakeviz``/``pstats``.

    .venv/bin/python bench/profiling.py customer-360 --duration 10
    .venv/bin/python bench/profiling.py list20 --env CSM_OPTIMIZATIONS=0 --top 40

Profiling costs the gateway about twice its CPU: compare shares, not absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, too

from bench.run import (
    RATE_LIMITS,
    Scenario,
    Tokens,
    cores,
    free_port,
    run_wrk,
    scenarios,
    services,
    set_latency,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["customer-360", "list20", "catalogue", "payBill"])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--latency", type=float, default=0.0, help="backend latency, ms")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the gateway")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--out", type=Path, help="where to keep the profile")
    args = parser.parse_args(argv)
    # what bench.run's helpers expect
    args.modes, args.gateway_env, args.threads = [], [], 1
    args.scenarios, args.pay_customers = [args.scenario], 8
    return args


async def serve_profiled(
    env: dict[str, str],
    warm: Callable[[], None],
    measure: Callable[[], None],
    profiler: cProfile.Profile,
) -> None:
    from graph.server import create_app
    from graph.settings import Settings

    os.environ.clear()
    os.environ.update(env)
    app = create_app(Settings.from_env())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = int(env["CSM_PORT_FOR_PROFILE"])
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.to_thread(warm)
        profiler.enable()  # this thread: the gateway's
        try:
            await asyncio.to_thread(measure)
        finally:
            profiler.disable()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    core, _ = cores()
    with tempfile.TemporaryDirectory(prefix="csm-profile-") as tmp:
        workdir = Path(tmp)
        with services(args, workdir, core) as (sandbox, _, base):
            set_latency(sandbox.url, args.latency)
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = base | {
                "CSM_TMF_BASE_URL": sandbox.url,
                "CSM_DEV_IDP": "1",
                "CSM_DEV_IDP_URL": sandbox.url,
                "CSM_EVENTS": "0",
                "CSM_AUDIT_SPILL": str(workdir / "audit-spill.jsonl"),
                "CSM_RATE_LIMITS": RATE_LIMITS,
                "CSM_PORT_FOR_PROFILE": str(port),
                **dict(item.split("=", 1) for item in args.env),
            }
            if core:
                os.sched_setaffinity(0, {core[1]})
            exe = str(Path(sys.executable).with_name("csm-graph"))
            profiler = cProfile.Profile()
            result: dict[str, object] = {}

            prepared: list[Scenario] = []

            def warm() -> None:
                tokens = Tokens(exe, base)
                prepared.append(scenarios(url, tokens, args)[args.scenario])
                run_wrk(url, prepared[0], 2, args, workdir, core[0] if core else None, 4)

            def measure() -> None:
                scenario = prepared[0]
                result.update(
                    run_wrk(
                        url,
                        scenario,
                        args.duration,
                        args,
                        workdir,
                        core[0] if core else None,
                        args.connections,
                    )
                )

            asyncio.run(serve_profiled(env, warm, measure, profiler))
    print({k: v for k, v in result.items() if not isinstance(v, dict)})
    stats = pstats.Stats(profiler)
    if args.out:
        stats.dump_stats(str(args.out))
    stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
