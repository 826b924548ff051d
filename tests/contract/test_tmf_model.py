"""The committed ``graph/sandbox/tmf_model.py`` is what ``tools/gen_tmf_model.py`` extracts
from the specification files now: a drift test, one id per collection."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from graph.sandbox.registry import COLLECTIONS
from graph.sandbox.tmf_model import MODEL
from tests.support.tmf_specs import require_specs

TOOL = Path(__file__).resolve().parents[2] / "tools" / "gen_tmf_model.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_tmf_model", TOOL)
    assert spec is not None, f"cannot load {TOOL}"
    assert spec.loader is not None, f"cannot load {TOOL}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(spec_files: Path) -> dict[str, Any]:
    extracted: dict[str, Any] = _tool().model(spec_files)
    return extracted


@pytest.fixture(scope="module")
def spec_files() -> Path:  # module scope: the generator reads every file once
    return require_specs()


def test_the_model_covers_exactly_the_served_collections(generated: dict[str, Any]) -> None:
    assert list(generated) == list(MODEL), "regenerate graph/sandbox/tmf_model.py"
    assert set(MODEL) == set(COLLECTIONS)


@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_the_committed_model_matches_the_specifications(
    generated: dict[str, Any], collection: str
) -> None:
    want = generated.get(collection)
    assert want is not None, f"{TOOL.name} no longer extracts {collection}"
    have = dict(MODEL[collection])
    drifted = sorted(key for key in want.keys() | have.keys() if want.get(key) != have.get(key))
    assert not drifted, (
        f"graph/sandbox/tmf_model.py drifted from the specifications for {collection} in "
        f"{drifted}; regenerate it with `python tools/gen_tmf_model.py > "
        f"graph/sandbox/tmf_model.py`\n"
        + "\n".join(
            f"  {k}: committed {have.get(k)!r}\n  {k}: specs     {want.get(k)!r}" for k in drifted
        )
    )
