"""``python -m graph.operations add NAME FILE`` (``-`` reads stdin) or ``… verify``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from graph.operations.manifest import MANIFEST_PATH, ManifestError, add_operation, verify_manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graph.operations")
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add or replace a trusted operation")
    add.add_argument("name")
    add.add_argument("file", help="the document, exactly as clients send it; - for stdin")
    add.add_argument(
        "--channel", action="append", default=[],
        help="a trusted-only channel it is for (repeatable; none: all of them)",
    )  # fmt: skip
    commands.add_parser("verify", help="check every id against its document")
    args = parser.parse_args(argv)
    if args.command == "verify":
        problems = verify_manifest(args.manifest)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    document = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    try:
        op = add_operation(args.name, document, args.manifest, channels=args.channel)
    except ManifestError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{op.name} {op.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
