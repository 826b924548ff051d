"""Shared fixtures: a real sandbox on a loopback port, and an HTTP client for it."""

from __future__ import annotations

import datetime
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis
from redis.exceptions import RedisError

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


TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> str:
    """A Redis that answers (``CSM_TEST_REDIS_URL``, else database 15 on localhost); the test
    is skipped when none does. Tests using it put their keys under a prefix of their own and
    delete them afterwards. (Synchronous, so parametrized fixtures can ask for it on demand.)"""
    url = os.environ.get("CSM_TEST_REDIS_URL") or TEST_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        pytest.skip(f"no Redis answers at {url} ({exc}); set CSM_TEST_REDIS_URL to one that does")
    finally:
        client.close()
    return url
