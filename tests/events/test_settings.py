"""The live-updates settings as read from the environment: CSM_PUBLIC_URL, CSM_EVENTS,
CSM_EVENT_SECRET and CSM_HUB_RENEW_SECONDS, their defaults and what is refused."""

from __future__ import annotations

import pytest

from graph.settings import Settings, SettingsError


def test_defaults_listen_with_a_random_secret_and_renew_every_minute() -> None:
    settings = Settings.from_env({})
    assert settings.public_url is None
    assert settings.events is True
    assert settings.event_secret is None
    assert settings.hub_renew_seconds == 60.0


def test_the_live_updates_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "CSM_PUBLIC_URL": "https://gateway.example.net:8443/csm/",
            "CSM_EVENTS": "off",
            "CSM_EVENT_SECRET": "Abc_def-0123456789",
            "CSM_HUB_RENEW_SECONDS": "2.5",
        }
    )
    assert settings.public_url == "https://gateway.example.net:8443/csm"  # no trailing /
    assert settings.events is False
    assert settings.event_secret == "Abc_def-0123456789"
    assert settings.hub_renew_seconds == 2.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CSM_PUBLIC_URL", "gateway.example.net"),
        ("CSM_PUBLIC_URL", "ftp://gateway.example.net"),
        ("CSM_EVENTS", "maybe"),
        ("CSM_EVENT_SECRET", "short-secret"),  # under 16 characters
        ("CSM_EVENT_SECRET", "0123456789abcdef/"),  # a path separator
        ("CSM_EVENT_SECRET", "0123456789abcdef?x"),
        ("CSM_EVENT_SECRET", "0123456789 abcdef"),
        ("CSM_HUB_RENEW_SECONDS", "0"),
        ("CSM_HUB_RENEW_SECONDS", "-5"),
        ("CSM_HUB_RENEW_SECONDS", "soon"),
    ],
)
def test_a_malformed_setting_is_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({name: value})


@pytest.mark.parametrize("secret", ["0123456789abcdéf", "0123456789abcdef٣"])
def test_a_secret_with_non_ascii_letters_or_digits_is_refused(secret: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({"CSM_EVENT_SECRET": secret})
