"""Settings from the environment."""

from __future__ import annotations

import pytest

from graph.settings import Settings, SettingsError
from graph.sources import APIS


def test_no_backend_means_the_embedded_default() -> None:
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.dev_principals
    assert settings.redis_url is None


def test_a_server_root_configures_every_api_and_turns_dev_principals_off() -> None:
    settings = Settings.from_env({"CSM_TMF_BASE_URL": "https://tmf.example/"})
    assert not settings.embedded
    assert not settings.dev_principals
    assert settings.backend_urls["TMF629"] == "https://tmf.example/tmf-api/customerManagement/v4"
    assert len(settings.backend_urls) == len(APIS)


def test_per_api_urls_override_the_root() -> None:
    env = {
        "CSM_TMF_BASE_URL": "https://tmf.example",
        "CSM_TMF678_URL": "https://bill.example/b/v4/",
    }
    assert Settings.from_env(env).backend_urls["TMF678"] == "https://bill.example/b/v4"


@pytest.mark.parametrize(
    "env",
    [
        {"CSM_TMF629_URL": "https://crm.example/c/v4"},  # others missing
        {"CSM_TMF_BASE_URL": "ftp://tmf.example"},
        {"CSM_BACKEND_TIMEOUT": "soon"},
        {"CSM_BACKEND_TIMEOUT": "-1"},
        {"CSM_DEV_PRINCIPALS": "perhaps"},
    ],
)
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)
