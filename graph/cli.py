"""``csm-graph``: the command line of csm-graph."""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

__all__ = ["main"]


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Fault, SandboxConfig, create_sandbox_app

    faults: dict[str, Fault] = {}
    if args.latency_ms or args.jitter_ms or args.error_rate:
        fault = Fault(
            latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, error_rate=args.error_rate
        )
        fault.validate()
        faults["*"] = fault
    config = SandboxConfig(
        customers=args.customers,
        seed=args.seed,
        today=args.today,
        base_url=f"http://{args.host}:{args.port}",
        order_step_seconds=args.order_step_seconds,
        faults=faults,
    )
    web.run_app(create_sandbox_app(config), host=args.host, port=args.port, access_log=None)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csm-graph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser(
        "sandbox", help="run the TM Forum sandbox backends (all APIs on one port)"
    )
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8100)
    sandbox.add_argument("--customers", type=int, default=1000, help="seeded customers")
    sandbox.add_argument("--seed", type=int, default=1, help="seed of the demo data")
    sandbox.add_argument(
        "--today",
        type=datetime.date.fromisoformat,
        default=None,
        help="date the seeded data is relative to (YYYY-MM-DD; default: today)",
    )
    sandbox.add_argument("--latency-ms", type=float, default=0.0, help="added latency, all APIs")
    sandbox.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency")
    sandbox.add_argument("--error-rate", type=float, default=0.0, help="share of 500 answers")
    sandbox.add_argument(
        "--order-step-seconds",
        type=float,
        default=2.0,
        help="time a product order spends in each state before moving on",
    )
    sandbox.set_defaults(run=_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if getattr(args, "customers", 1) < 1:
        print("csm-graph: --customers must be at least 1", file=sys.stderr)
        return 2
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
