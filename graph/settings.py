"""All of csm-graph's settings, read once from the environment and immutable afterwards.

| variable | meaning | default |
|---|---|---|
| ``CSM_TMF_BASE_URL`` | server root all TMF APIs live under (standard base paths appended) | — |
| ``CSM_<API>_URL`` | one API's full base URL (e.g. ``CSM_TMF629_URL``), overrides the root | — |
| ``CSM_REDIS_URL`` | Redis for caches, idempotency, rate limits, pub/sub | in-memory |
| ``CSM_BACKEND_TIMEOUT`` | seconds per backend request | 5 |
| ``CSM_MAX_PAGE_SIZE`` | hard maximum of ``first`` on connections | 100 |
| ``CSM_DEV_PRINCIPALS`` | accept ``X-Dev-Principal`` (development only) | on when embedded |
| ``CSM_SANDBOX_CUSTOMERS`` | customers seeded in the embedded sandbox | 1000 |

With no backend URL configured the gateway runs on its *embedded default*: the TMF sandbox
in-process, in-memory stores, development principals on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .sources.apis import APIS

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    """A setting is malformed or settings contradict each other."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"not a boolean: {value!r}")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    backend_urls: Mapping[str, str] = field(default_factory=dict)  # API key -> base URL
    redis_url: str | None = None
    backend_timeout: float = 5.0
    max_page_size: int = 100
    dev_principals: bool = True
    sandbox_customers: int = 1000

    @property
    def embedded(self) -> bool:
        """True when no backend is configured: the gateway brings its own sandbox."""
        return not self.backend_urls

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        root = env.get("CSM_TMF_BASE_URL", "").rstrip("/")
        urls: dict[str, str] = {}
        for api in APIS:
            url = env.get(api.env_var) or (root + api.base_path if root else "")
            if url:
                if not url.startswith(("http://", "https://")):
                    raise SettingsError(f"{api.env_var} must be an http(s) URL")
                urls[api.key] = url.rstrip("/")
        if urls and len(urls) != len(APIS):
            missing = sorted(a.env_var for a in APIS if a.key not in urls)
            raise SettingsError(f"backend URLs missing: {', '.join(missing)} (or CSM_TMF_BASE_URL)")
        embedded = not urls
        return cls(
            backend_urls=urls,
            redis_url=env.get("CSM_REDIS_URL") or None,
            backend_timeout=_number(env, "CSM_BACKEND_TIMEOUT", 5.0),
            max_page_size=int(_number(env, "CSM_MAX_PAGE_SIZE", 100)),
            dev_principals=_flag(env.get("CSM_DEV_PRINCIPALS"), embedded),
            sandbox_customers=int(_number(env, "CSM_SANDBOX_CUSTOMERS", 1000)),
        )
