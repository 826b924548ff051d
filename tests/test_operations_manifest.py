"""The trusted-operations manifest: every id is its document's sha256, every document is a
valid operation of the current schema that fits the channel it is for, and the tools that
add and verify entries keep it that way."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse, validate

from graph.auth.policy import CHANNEL_POLICY, analyze, check_operation, policy_for
from graph.auth.principal import Principal, Role
from graph.operations import (
    MANIFEST_PATH,
    ManifestError,
    add_operation,
    load_manifest,
    manifest_at,
    verify_manifest,
)
from graph.operations.__main__ import main
from graph.schema import build_schema

# The channel each packaged operation is for, by its name's prefix.
CHANNELS = {"Kiosk": "kiosk", "Ivr": "ivr"}
ENTRIES = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


def test_the_manifest_holds_what_kiosks_and_the_ivr_run_today() -> None:
    assert {e["name"] for e in ENTRIES} >= {"KioskBill", "KioskAccount", "IvrBalance"}
    assert verify_manifest() == []


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["name"])
def test_each_id_is_the_sha256_of_its_exact_document(entry: dict[str, str]) -> None:
    assert entry["id"] == hashlib.sha256(entry["document"].encode("utf-8")).hexdigest()
    assert manifest_at()[entry["id"]].document == entry["document"]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["name"])
def test_each_document_is_one_valid_operation_that_fits_its_channel(
    entry: dict[str, str],
) -> None:
    schema = build_schema()._schema
    document = parse(entry["document"])
    assert validate(schema, document) == []
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1
    assert operations[0].name is not None
    assert operations[0].name.value == entry["name"]
    channel = next(c for prefix, c in CHANNELS.items() if entry["name"].startswith(prefix))
    principal = Principal(subject="c", role=Role.CUSTOMER, customer_id="cus-1", channel=channel,
                          acr="low" if channel == "ivr" else "substantial")  # fmt: skip
    policy = policy_for(principal)
    assert policy is CHANNEL_POLICY[channel]
    assert policy.trusted_only
    shape = analyze(schema, document, None, None, page_size=100)
    assert shape is not None
    assert check_operation(principal, policy, shape, introspection=False) == []


def write(path: Path, entries: object) -> Path:
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def test_add_operation_adds_replaces_and_refuses_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    first = add_operation("Mine", "query Mine { me { name } }", path)
    assert first.id == hashlib.sha256(b"query Mine { me { name } }").hexdigest()
    other = add_operation("Another", "query Another { me { status } }", path)
    assert [e["name"] for e in json.loads(path.read_text())] == ["Another", "Mine"]
    changed = add_operation("Mine", "query Mine { me { name status } }", path)
    manifest = load_manifest(path)
    assert set(manifest) == {other.id, changed.id}  # the old text is no longer trusted
    assert manifest.trusts("query Mine { me { name status } }")
    assert not manifest.trusts("query Mine { me { name } }")
    with pytest.raises(ManifestError, match="already in the manifest as Another"):
        add_operation("Copy", "query Another { me { status } }", path)
    with pytest.raises(ManifestError):
        add_operation("Empty", "  ", path)


def test_verify_finds_tampered_ids_duplicates_and_malformed_files(tmp_path: Path) -> None:
    doc = "query A { me { name } }"
    good = {"id": hashlib.sha256(doc.encode()).hexdigest(), "name": "A", "document": doc}
    tampered = write(tmp_path / "t.json", [{**good, "document": doc + " "}])
    assert verify_manifest(tampered) == [f"A: id {good['id']} is not the sha256 of its document"]
    with pytest.raises(ManifestError, match="not the sha256"):
        load_manifest(tampered)
    twice = write(tmp_path / "d.json", [good, {**good, "name": "B"}])
    assert verify_manifest(twice) == [f"duplicate id: {good['id']}"]
    malformed: list[object] = [{"operations": []}, [{**good, "extra": 1}], [{**good, "name": ""}]]
    for bad in malformed:
        assert len(verify_manifest(write(tmp_path / "bad.json", bad))) == 1, bad
    assert "cannot read" in verify_manifest(tmp_path / "missing.json")[0]


def test_the_module_command_adds_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "manifest.json"
    source = tmp_path / "op.graphql"
    source.write_text("query Op { me { name } }\n", encoding="utf-8")
    assert main(["--manifest", str(path), "add", "Op", str(source)]) == 0
    sha = hashlib.sha256(b"query Op { me { name } }\n").hexdigest()
    assert capsys.readouterr().out == f"Op {sha}\n"
    assert main(["--manifest", str(path), "verify"]) == 0
    entries = json.loads(path.read_text())
    write(path, [{**entries[0], "id": "0" * 64}])
    assert main(["--manifest", str(path), "verify"]) == 1
    assert "not the sha256" in capsys.readouterr().err


def test_an_operation_naming_its_channels_is_trusted_only_there(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    add_operation("Q", "query Q { me { reference } }", path, channels=["kiosk"])
    manifest = load_manifest(path)
    [op] = manifest.values()
    assert op.channels == ("kiosk",)
    assert manifest.trusts(op.document, "kiosk")
    assert not manifest.trusts(op.document, "ivr")
    add_operation("R", "query R { me { name } }", path)
    everywhere = manifest_at.__wrapped__(path)
    assert everywhere.trusts("query R { me { name } }", "ivr")
    with pytest.raises(ManifestError):
        add_operation("S", "query S { me { status } }", path, channels=["fax"])
    raw = json.loads(path.read_text())
    raw[0]["channels"] = ["telegraph"]
    assert verify_manifest(write(tmp_path / "bad.json", raw))


def test_the_packaged_operations_name_their_channels() -> None:
    for op in manifest_at().values():
        assert op.channels == (("ivr",) if op.name.startswith("Ivr") else ("kiosk",))
