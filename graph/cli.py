"""``csm-graph``: serve the gateway, run the TMF sandbox, manage the schema file."""

from __future__ import annotations

import argparse
import datetime
import difflib
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from .observability.logging import (
    LogConfigError,
    configure_logging,
    log_format_from,
    log_level_from,
)

__all__ = ["main"]


def _serve_one(host: str, port: int, sock: socket.socket | None = None) -> None:
    import dataclasses

    from .observability.tracing import configure_tracing
    from .server import create_app
    from .settings import Settings

    settings = Settings.from_env()
    # Per process: a forked worker's exporter thread is its own.
    configure_tracing(settings.tracing)
    if settings.public_url is None:
        # Backends on this machine (the embedded sandbox, a local one) reach the gateway
        # where it listens; others need CSM_PUBLIC_URL.
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        if ":" in local:
            local = f"[{local}]"  # an IPv6 address in a URL
        settings = dataclasses.replace(settings, public_url=f"http://{local}:{port}")
    app = create_app(settings)
    if settings.optimizations:
        from .server.collector import tune_collector

        tune_collector()
    if sock is not None:
        web.run_app(app, sock=sock, access_log=None, print=None)
    else:
        web.run_app(app, host=host, port=port, access_log=None)


def _serve(args: argparse.Namespace) -> int:
    from .settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"csm-graph: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("csm-graph: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers == 1:
        _serve_one(args.host, args.port)
        return 0
    if settings.embedded:
        print(
            "csm-graph: --workers > 1 needs shared backends: run `csm-graph sandbox` and set "
            "CSM_TMF_BASE_URL (each worker's embedded sandbox would hold different data)",
            file=sys.stderr,
        )
        return 2
    # One listening socket, shared by forked workers: the kernel spreads connections.
    sock = socket.create_server((args.host, args.port), reuse_port=True)
    sock.set_inheritable(True)
    workers = [
        multiprocessing.get_context("fork").Process(
            target=_serve_one, args=(args.host, args.port, sock)
        )
        for _ in range(args.workers)
    ]
    for worker in workers:
        worker.start()
    print(f"csm-graph: {args.workers} workers on http://{args.host}:{args.port}/graphql")

    def stop_workers(signum: int, frame: object) -> None:
        # Workers stop gracefully on SIGTERM (aiohttp runs their cleanup: audit flush etc.).
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_workers)
    signal.signal(signal.SIGINT, stop_workers)
    for worker in workers:
        worker.join()
    sock.close()
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Fault, SandboxConfig, create_sandbox_app

    faults: dict[str, Fault] = {}
    if args.latency_ms or args.jitter_ms or args.error_rate:
        fault = Fault(
            latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, error_rate=args.error_rate
        )
        fault.validate()
        faults["*"] = fault
    key_path = None
    if args.idp:
        from .auth.devidp import dev_key_path

        key_path = dev_key_path()
    config = SandboxConfig(
        customers=args.customers,
        idp_key_path=key_path,
        seed=args.seed,
        today=args.today,
        base_url=f"http://{args.host}:{args.port}",
        order_step_seconds=args.order_step_seconds,
        faults=faults,
    )
    web.run_app(create_sandbox_app(config), host=args.host, port=args.port, access_log=None)
    return 0


def _token(args: argparse.Namespace) -> int:
    from .auth.devidp import DevIdpError, mint_for_environment

    try:
        token = mint_for_environment(
            os.environ,
            role=args.role,
            channel=args.channel,
            customer_id=args.customer,
            subject=args.subject,
            acr=args.acr,
            scopes=tuple(args.scope),
            ttl_seconds=args.ttl,
        )
    except DevIdpError as exc:
        print(f"csm-graph token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _sdl() -> str:
    from .schema import build_schema

    return build_schema().as_str().rstrip() + "\n"


def _schema_export(args: argparse.Namespace) -> int:
    sdl = _sdl()
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl, encoding="utf-8")
    return 0


def _schema_check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"csm-graph: {path} does not exist; run `csm-graph schema export`", file=sys.stderr)
        return 1
    current, committed = _sdl(), path.read_text(encoding="utf-8")
    if current == committed:
        return 0
    diff = difflib.unified_diff(
        committed.splitlines(keepends=True), current.splitlines(keepends=True),
        fromfile=str(path), tofile="schema from the code",
    )  # fmt: skip
    sys.stderr.writelines(diff)
    print(f"csm-graph: {path} is out of date; run `csm-graph schema export`", file=sys.stderr)
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csm-graph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the gateway (embedded sandbox unless backend URLs are configured)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.set_defaults(run=_serve)

    sandbox = commands.add_parser(
        "sandbox", help="run the TM Forum sandbox backends (all APIs on one port)"
    )
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8100)
    sandbox.add_argument("--customers", type=int, default=1000, help="seeded customers")
    sandbox.add_argument("--seed", type=int, default=1, help="seed of the demo data")
    sandbox.add_argument(
        "--today", type=datetime.date.fromisoformat, default=None,
        help="date the seeded data is relative to (YYYY-MM-DD; default: today)",
    )  # fmt: skip
    sandbox.add_argument("--latency-ms", type=float, default=0.0, help="added latency, all APIs")
    sandbox.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency")
    sandbox.add_argument("--error-rate", type=float, default=0.0, help="share of 500 answers")
    sandbox.add_argument(
        "--order-step-seconds", type=float, default=2.0,
        help="time a product order spends in each state before moving on",
    )  # fmt: skip
    sandbox.add_argument(
        "--no-idp", dest="idp", action="store_false",
        help="do not serve the development identity provider",
    )  # fmt: skip
    sandbox.set_defaults(run=_sandbox)

    token = commands.add_parser(
        "token", help="print a token from the development identity provider (development only)"
    )
    token.add_argument("--role", required=True, choices=("customer", "agent", "analyst"))
    token.add_argument(
        "--channel", required=True,
        choices=("web", "app", "kiosk", "ivr", "chatbot", "agent-desktop"),
    )  # fmt: skip
    token.add_argument("--customer", help="the customer a customer token is bound to")
    token.add_argument("--subject", help="the token's subject (default: from role/customer)")
    token.add_argument("--acr", choices=("low", "substantial", "high"), help="assurance level")
    token.add_argument("--scope", action="append", default=[], help="a scope (repeatable)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(run=_token)

    schema = commands.add_parser("schema", help="export or check schema.graphql")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser("export", help="write the schema's SDL")
    export.add_argument("-o", "--output", default="schema.graphql", help="file, or - for stdout")
    export.set_defaults(run=_schema_export)
    check = schema_commands.add_parser("check", help="fail when the SDL file is out of date")
    check.add_argument("-f", "--file", default="schema.graphql")
    check.set_defaults(run=_schema_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        # JSON lines unless stderr is a terminal (CSM_LOG_FORMAT, CSM_LOG_LEVEL; docs/operations.md)
        configure_logging(
            log_format_from(os.environ.get("CSM_LOG_FORMAT")),
            log_level_from(os.environ.get("CSM_LOG_LEVEL")),
        )
    except LogConfigError as exc:
        print(f"csm-graph: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "customers", 1) < 1:
        print("csm-graph: --customers must be at least 1", file=sys.stderr)
        return 2
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
