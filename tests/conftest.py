"""Shared fixtures: a real sandbox on a loopback port, and an HTTP client for it."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import aiohttp
import pytest

from graph.sandbox import RunningSandbox, SandboxConfig, running_sandbox

TODAY = datetime.date(2026, 11, 26)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Small and fast; a test that needs other settings overrides this fixture."""
    return SandboxConfig(
        customers=20,
        seed=7,
        today=TODAY,
        order_step_seconds=0.05,
        delivery_backoff_seconds=0.02,
    )


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(sandbox_config) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session
