"""Shared fixtures: a real sandbox on a loopback port, and an HTTP client for it."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from graph.sandbox import RunningSandbox, SandboxConfig, running_sandbox

TODAY = datetime.date(2026, 11, 26)


@pytest.fixture(scope="session")
def dev_idp_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test run's development identity provider keeps its signing key."""
    return tmp_path_factory.mktemp("dev-idp") / "dev-idp-key.pem"


@pytest.fixture
def sandbox_config(dev_idp_key: Path) -> SandboxConfig:
    """Small and fast; a test that needs other settings overrides this fixture."""
    return SandboxConfig(
        customers=20,
        seed=7,
        today=TODAY,
        order_step_seconds=0.05,
        delivery_backoff_seconds=0.02,
        idp_key_path=dev_idp_key,
    )


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(sandbox_config) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session
