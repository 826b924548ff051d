"""Settings from the environment."""

from __future__ import annotations

import pytest

from graph.settings import Settings, SettingsError
from graph.sources import APIS

REAL_IDP = {
    "CSM_JWKS_URL": "https://idp.example/jwks",
    "CSM_JWT_ISSUER": "https://idp.example/",
    "CSM_JWT_AUDIENCE": "csm-graph",
}


def test_no_backend_means_the_embedded_default_with_the_dev_idp() -> None:
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.dev_idp
    assert settings.jwks_url is None
    assert settings.redis_url is None


def test_a_server_root_configures_every_api_and_leaves_the_dev_idp_off() -> None:
    settings = Settings.from_env({"CSM_TMF_BASE_URL": "https://tmf.example/"})
    assert not settings.embedded
    assert not settings.dev_idp
    assert settings.backend_urls["TMF629"] == "https://tmf.example/tmf-api/customerManagement/v4"
    assert len(settings.backend_urls) == len(APIS)


def test_per_api_urls_override_the_root() -> None:
    env = {"CSM_TMF_BASE_URL": "https://tmf.example", "CSM_TMF678_URL": "https://b.example/v4/"}
    assert Settings.from_env(env).backend_urls["TMF678"] == "https://b.example/v4"


def test_a_real_identity_provider_turns_the_dev_one_off_even_when_embedded() -> None:
    settings = Settings.from_env(REAL_IDP)
    assert settings.embedded
    assert not settings.dev_idp
    assert settings.jwt_issuer == "https://idp.example/"


def test_dev_idp_next_to_configured_backends_is_explicit() -> None:
    env = {"CSM_TMF_BASE_URL": "http://127.0.0.1:8100", "CSM_DEV_IDP": "1"}
    settings = Settings.from_env(env)
    assert settings.dev_idp
    assert settings.dev_idp_url == "http://127.0.0.1:8100"


def test_client_channels() -> None:
    settings = Settings.from_env({"CSM_CLIENT_CHANNELS": "portal=web, kiosk-app=kiosk"})
    assert settings.client_channels == {"portal": "web", "kiosk-app": "kiosk"}


@pytest.mark.parametrize(
    "env",
    [
        {"CSM_TMF629_URL": "https://crm.example/c/v4"},  # others missing
        {"CSM_TMF_BASE_URL": "ftp://tmf.example"},
        {"CSM_BACKEND_TIMEOUT": "soon"},
        {"CSM_BACKEND_TIMEOUT": "-1"},
        {"CSM_DEV_IDP": "perhaps"},
        {"CSM_JWKS_URL": "https://idp.example/jwks"},  # issuer and audience missing
        {**REAL_IDP, "CSM_DEV_IDP": "1"},
        {"CSM_CLIENT_CHANNELS": "portal"},
    ],
)
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)
