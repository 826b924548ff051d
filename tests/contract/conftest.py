"""Every contract test needs the official specification files: skip cleanly without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tmf_specs import require_specs


@pytest.fixture(autouse=True)
def spec_files() -> Path:
    return require_specs()
