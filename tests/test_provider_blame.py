"""Issue 11: whose fault a refused create is (unit level), the operator settings for provider
limits and balances, and the photo-shape and language helpers."""

from __future__ import annotations

import pytest

from bot.catalog import nearest_ratio
from bot.config import ConfigError, load_settings
from bot.jobs.limits import DOCUMENTED_LIMITS
from bot.models import ErrorKind
from bot.providers._parsing import classify_create_refusal
from bot.providers.errors import ProviderError, error_for
from bot.providers.language import is_latin_script

TOKEN = "123456:ABCdef_ghi-JKL"


def refused(kind: ErrorKind, message: str, status: int, code: str | None = None) -> ProviderError:
    return error_for(kind, message, provider="p", status=status, code=code)


@pytest.mark.parametrize(
    ("kind", "status", "message", "expected"),
    [
        # 404: a model or endpoint that does not exist is the operator's configuration
        (ErrorKind.NOT_FOUND, 404, "Model 'grok-imagine-image-to-video' not found", "config"),
        (ErrorKind.NOT_FOUND, 404, "Not Found", "config"),
        # the provider could not fetch the photo we host: its side (or the network's)
        (ErrorKind.VALIDATION, 400, "Image could not be processed: unreachable: HTTP 404",
         "upstream"),
        (ErrorKind.VALIDATION, 400, "image_url could not be fetched: timed out", "upstream"),
        (ErrorKind.VALIDATION, 422, "Failed to download the image", "upstream"),
        # a parameter the bot chose: configuration, never the user's photo
        (ErrorKind.VALIDATION, 400, "duration must be one of 6, 10", "config"),
        (ErrorKind.VALIDATION, 422, "spicy mode is not available with external images",
         "config"),
        (ErrorKind.VALIDATION, 400, "Invalid request", "config"),
        (ErrorKind.UNKNOWN, 409, "Conflict", "config"),  # an unknown 4xx: never the user's
        # what the user can change: the photo's shape or content, the prompt
        (ErrorKind.VALIDATION, 400, "Image dimensions not supported: 120x100", "validation"),
        (ErrorKind.VALIDATION, 400, "300x100: aspect ratio beyond 2.5:1", "validation"),
        (ErrorKind.VALIDATION, 422, "Validation error: input.prompt is required", "validation"),
        (ErrorKind.CONTENT_POLICY, 400, "flagged by moderation", "content_policy"),
        # unchanged: operator and provider kinds keep theirs
        (ErrorKind.AUTH, 401, "Invalid API key", "auth"),
        (ErrorKind.UPSTREAM, 503, "Service unavailable", "upstream"),
        (ErrorKind.RATE_LIMITED, 429, "Rate limited", "rate_limited"),
    ],
)  # fmt: skip
def test_a_refused_create_is_blamed_on_the_right_party(
    kind: ErrorKind, status: int, message: str, expected: str
) -> None:
    err = classify_create_refusal(refused(kind, message, status))
    assert err.kind.value == expected
    assert err.message == message and err.status == status
    users = err.kind.is_users_part
    assert users == (expected in ("validation", "content_policy"))
    if expected in ("config", "upstream", "auth"):
        assert err.next_provider_may_try  # fail over


def test_provider_limits_default_to_the_documented_values_and_can_be_changed() -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}, env_file=None)
    assert settings.limits() == DOCUMENTED_LIMITS == {"apikley": (25, 250)}
    assert settings.provider_low_balance == 0
    env = {"PROVIDER_LIMITS": "apikley=5/50, evolink=10/0", "PROVIDER_LOW_BALANCE": "100"}
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, **env}, env_file=None)
    assert settings.limits() == {"apikley": (5, 50), "evolink": (10, 0)}
    assert settings.provider_low_balance == 100


@pytest.mark.parametrize(
    "value", ["apikley=25", "nobody=1/1", "apikley=x/1", "apikley=1/1,apikley=2/2"]
)
def test_bad_provider_limits_are_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "PROVIDER_LIMITS": value}, env_file=None)
    assert any(p.startswith("PROVIDER_LIMITS") for p in info.value.problems)


def test_nearest_ratio_and_latin_script() -> None:
    assert nearest_ratio((1080, 1920), ("auto", "16:9", "9:16", "1:1")) == "9:16"
    assert nearest_ratio(None, ("16:9",)) is None
    assert is_latin_script("A cat, 2 dogs! 🐱 café")
    assert not is_latin_script("кот")
    assert not is_latin_script("a cat и кот")
