"""The command line: schema export/check (and the drift of the committed schema.graphql)."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_committed_schema_matches_the_code() -> None:
    assert main(["schema", "check", "-f", str(ROOT / "schema.graphql")]) == 0, (
        "schema.graphql is out of date: run `csm-graph schema export`"
    )


def test_schema_check_fails_on_drift_and_export_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "schema.graphql"
    assert main(["schema", "check", "-f", str(target)]) == 1
    assert main(["schema", "export", "-o", str(target)]) == 0
    assert main(["schema", "check", "-f", str(target)]) == 0
    target.write_text(target.read_text().replace("type Customer ", "type Client "))
    assert main(["schema", "check", "-f", str(target)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_serve_refuses_contradicting_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CSM_TMF629_URL", "http://127.0.0.1:1/tmf-api/customerManagement/v4")
    assert main(["serve"]) == 2
    assert "backend URLs missing" in capsys.readouterr().err
    monkeypatch.delenv("CSM_TMF629_URL")
    assert main(["serve", "--workers", "2"]) == 2
    assert "needs shared backends" in capsys.readouterr().err
