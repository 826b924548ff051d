"""The trusted-operations manifest: the documents kiosk and IVR clients may run.

``manifest.json`` (next to this module) is a JSON list of entries ``{id, name, document}``:
``id`` is the sha256 (hex) of the exact document text, UTF-8 encoded -- the same bytes the
client sends as ``query`` -- so a document changed by one character is a different, unknown
operation. Clients may also send just the id, as ``extensions.persistedQuery.sha256Hash``.

A deployment may use its own manifest file instead (``CSM_OPERATIONS_MANIFEST``), e.g. one
shipped with a kiosk or IVR release. Add or change an entry with :func:`add_operation` (or
``python -m graph.operations add NAME FILE``), never by editing ids by hand;
:func:`verify_manifest` (``python -m graph.operations verify``) checks every id against its
document, and ``tests/test_operations_manifest.py`` also validates every packaged document
against the current schema.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from graph.auth.principal import CHANNELS

__all__ = [
    "MANIFEST_PATH",
    "Manifest",
    "ManifestError",
    "TrustedOperation",
    "add_operation",
    "document_id",
    "load_manifest",
    "manifest_at",
    "verify_manifest",
]

MANIFEST_PATH: Final = Path(__file__).with_name("manifest.json")


def document_id(document: str) -> str:
    """A document's id: the sha256 of its exact text (UTF-8), in hex."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class ManifestError(ValueError):
    """The manifest file is malformed, or an entry's id is not its document's sha256."""


@dataclass(frozen=True, slots=True)
class TrustedOperation:
    id: str  # sha256 hex of ``document``
    name: str  # the operation's name, e.g. KioskBill
    document: str  # the exact text clients send
    channels: tuple[str, ...] = ()  # the trusted-only channels it is for; () = all of them


class Manifest(Mapping[str, TrustedOperation]):
    """Trusted operations by id (read-only)."""

    def __init__(self, operations: list[TrustedOperation]) -> None:
        self._by_id = {op.id: op for op in operations}
        self._operations = operations

    def __getitem__(self, operation_id: str) -> TrustedOperation:
        return self._by_id[operation_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def trusts(self, document: str, channel: str | None = None) -> bool:
        """Whether ``document`` is, byte for byte, one of the manifest's operations -- and, for
        an operation that names its channels, whether ``channel`` is one of them."""
        op = self._by_id.get(document_id(document))
        return op is not None and (not op.channels or channel in op.channels)

    def by_name(self, name: str) -> TrustedOperation:
        for op in self._operations:
            if op.name == name:
                return op
        raise KeyError(name)

    @property
    def operations(self) -> list[TrustedOperation]:
        return list(self._operations)


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from None
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise ManifestError(f"{path}: expected a list of {{id, name, document}} objects")
    return raw


def _entry(raw: dict[str, Any]) -> TrustedOperation:
    fields = (raw.get("id"), raw.get("name"), raw.get("document"))
    keys = set(raw) - {"channels"}
    if keys != {"id", "name", "document"} or not all(isinstance(f, str) and f for f in fields):
        raise ManifestError(f"an entry needs exactly a non-empty id, name and document: {raw!r}")
    channels = raw.get("channels", [])
    if not isinstance(channels, list) or not all(c in CHANNELS for c in channels):
        raise ManifestError(f"{raw['name']}: channels must be a list of {sorted(CHANNELS)}")
    return TrustedOperation(
        id=raw["id"], name=raw["name"], document=raw["document"], channels=tuple(channels)
    )


def verify_manifest(path: Path = MANIFEST_PATH) -> list[str]:
    """What is wrong with the manifest at ``path`` (nothing: an empty list)."""
    try:
        entries = [_entry(raw) for raw in _read(path)]
    except ManifestError as exc:
        return [str(exc)]
    problems = []
    for op in entries:
        if op.id != document_id(op.document):
            problems.append(f"{op.name}: id {op.id} is not the sha256 of its document")
    for label, values in (("id", [op.id for op in entries]), ("name", [op.name for op in entries])):
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            problems.append(f"duplicate {label}: {', '.join(duplicates)}")
    return problems


def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    """The manifest at ``path``; refused (:class:`ManifestError`) unless it verifies."""
    problems = verify_manifest(path)
    if problems:
        raise ManifestError("; ".join(problems))
    return Manifest([_entry(raw) for raw in _read(path)])


@cache
def manifest_at(path: Path | None = None) -> Manifest:
    """The manifest at ``path`` (None: the packaged one), read once per process."""
    return load_manifest(MANIFEST_PATH if path is None else path)


def add_operation(
    name: str, document: str, path: Path = MANIFEST_PATH, channels: Sequence[str] = ()
) -> TrustedOperation:
    """Add ``document`` as ``name``, or replace the document of the entry of that name (its
    id changes with it: clients sending the old text are refused from then on). Written
    atomically, entries sorted by name, so the file diffs well."""
    if not name:
        raise ManifestError("an operation needs a name")
    if not document.strip():
        raise ManifestError("an operation needs a document")
    entries = [_entry(raw) for raw in _read(path)] if path.exists() else []
    unknown = sorted(set(channels) - CHANNELS)
    if unknown:
        raise ManifestError(f"unknown channel(s): {', '.join(unknown)}")
    added = TrustedOperation(
        id=document_id(document), name=name, document=document, channels=tuple(channels)
    )
    clash = next((op for op in entries if op.id == added.id and op.name != name), None)
    if clash is not None:
        raise ManifestError(f"this document is already in the manifest as {clash.name}")
    entries = sorted([*(op for op in entries if op.name != name), added], key=lambda op: op.name)
    text = json.dumps(
        [
            {"id": op.id, "name": op.name, "document": op.document}
            | ({"channels": list(op.channels)} if op.channels else {})
            for op in entries
        ],
        indent=2,
        ensure_ascii=False,
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    manifest_at.cache_clear()
    return added
