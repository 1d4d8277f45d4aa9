"""The operator contract: every setting, validated once at start-up.

`load_settings()` is the one entry point. It reads the environment (and an optional `.env` file),
checks every variable and, when anything is wrong, raises one `ConfigError` that lists *all*
problems, each naming the variable and what it expects, never a secret's value. `Settings` itself
reads no environment (its only source is its keyword arguments), so tests build it from a plain
dict and nothing leaks in from the developer's shell. No DNS lookups: "public" is judged from the
URL's text alone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.media.net_guard import public_url_problem

REMOTE_PROVIDERS = ("evolink", "apikley", "foxapi", "aimlapi")
KNOWN_PROVIDERS = (*REMOTE_PROVIDERS, "local")

_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")  # Telegram's secret_token charset
_LIST_SEP_RE = re.compile(r"[\s,]+")
_LIMIT_RE = re.compile(r"([a-z]+)=(\d{1,6})/(\d{1,6})")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})  # the strings pydantic reads as bools
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_CROSS_FIELD = "config_cross_field"
_PATH_LABEL = b"photo2video webhook path v1"
_BOOL = "true or false (also 1/0, yes/no)"
_URL = "an http(s):// URL"
_SECONDS = "a number of seconds > 0"
_IDS = "comma-separated integer ids"
_Names = tuple[str, ...]
_Ids = frozenset[int]
# issue 15: credit packs for Telegram Stars, (credits, stars) pairs; () = payments off.
_Packs = tuple[tuple[int, int], ...]
DEFAULT_CREDIT_PACKS = ((10, 50), (50, 200), (120, 400))
MAX_PACK_STARS = 10_000  # Telegram's ceiling for one Stars invoice
MAX_PACKS = 8
_PACKS_OFF = frozenset({"off", "none", "0", "false", "no"})


class Settings(BaseModel):
    """Every operator setting; frozen, secrets as `SecretStr`. Build it with `load_settings()`.

    A plain model: it reads no environment itself (`load_settings` decides where values come
    from), and list-valued variables are split by the validators below, not JSON-decoded."""

    # hide_input_in_errors: a ValidationError's text would otherwise quote the input, secrets too.
    # validate_default: defaults go through the same checks (media_dir follows database_path).
    model_config = ConfigDict(
        frozen=True, extra="ignore", hide_input_in_errors=True, validate_default=True
    )

    telegram_bot_token: SecretStr = Field(description="the token @BotFather gave you")
    telegram_api_base_url: str = Field("https://api.telegram.org", description=_URL)
    telegram_webhook_url: str | None = Field(None, description=_URL)
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="1-256 characters from A-Z, a-z, 0-9, _ and -"
    )
    # Webhook mode refuses to start without a secret unless the operator says so explicitly.
    telegram_webhook_insecure: bool = Field(False, description=_BOOL)
    # The bot adds a path segment derived from the secret (or the token) to the webhook URL.
    telegram_webhook_random_path: bool = Field(True, description=_BOOL)
    telegram_local_mode: bool = Field(False, description=_BOOL)
    public_base_url: str | None = Field(None, description=_URL)
    # All interfaces: the bot runs in a container behind a reverse proxy.
    http_host: str = Field("0.0.0.0", min_length=1, description="an address to listen on")  # noqa: S104
    http_port: int = Field(
        8080, ge=0, le=65535, description="an integer from 0 to 65535 (0 = any free port)"
    )
    database_path: Path = Field(Path("data/photo2video.db"), description="a file path")
    # Issue 17: set, the bot stores everything in this PostgreSQL database (several replicas may
    # share it) and DATABASE_PATH is not used. Secret: the URL usually carries a password.
    database_url: SecretStr | None = Field(
        None, description="a postgresql://user:password@host:port/database URL"
    )
    # Typed `Path`, never None: `_default_media_dir` fills in <database_path parent>/media.
    media_dir: Path = Field(None, validate_default=True, description="a directory path")
    evolink_api_key: SecretStr | None = Field(None, description="an API key")
    evolink_base_url: str = Field("https://api.evolink.ai", description=_URL)
    apikley_api_key: SecretStr | None = Field(None, description="an API key")
    apikley_base_url: str = Field("https://api.apikley.ru", description=_URL)
    apikley_webhook_hmac_key: SecretStr | None = Field(None, description="an HMAC key")
    foxapi_api_key: SecretStr | None = Field(None, description="an API key")
    foxapi_base_url: str = Field("https://api.foxapi.cc", description=_URL)
    aimlapi_api_key: SecretStr | None = Field(None, description="an API key")
    aimlapi_base_url: str = Field("https://api.aimlapi.com", description=_URL)
    provider_order: _Names = Field(
        REMOTE_PROVIDERS, description="comma-separated names from " + ", ".join(KNOWN_PROVIDERS)
    )
    daily_quota: int = Field(5, ge=0, description="an integer >= 0")
    admin_user_ids: _Ids = Field(frozenset(), description=_IDS)
    allow_private_urls: bool = Field(False, description=_BOOL)
    max_active_jobs_per_user: int = Field(2, ge=1, description="an integer >= 1")
    refund_on_cancel: bool = Field(True, description=_BOOL)
    prices_file: Path | None = Field(None, description="the path of an existing file")
    group_mode: Literal["open", "admins-only", "off"] = Field(
        "open", description="one of open, admins-only, off"
    )
    allowed_chat_ids: _Ids = Field(frozenset(), description=_IDS)
    metrics_token: SecretStr | None = Field(None, description="a bearer token")
    log_format: Literal["text", "json"] = Field("text", description="text or json")
    log_level: str = Field("INFO", description="a logging level name such as DEBUG or INFO")
    poll_initial_s: float = Field(3.0, gt=0, description=_SECONDS)
    poll_max_s: float = Field(30.0, gt=0, description=_SECONDS)
    callback_grace_s: float = Field(20.0, ge=0, description="a number of seconds >= 0")
    job_deadline_floor_s: float = Field(900.0, gt=0, description=_SECONDS)
    media_ttl_s: float = Field(3 * 3600.0, gt=0, description=_SECONDS)
    status_edit_interval_s: float = Field(5.0, gt=0, description=_SECONDS)
    # issue 11: documented provider limits as admission control (name=concurrent/per_hour,
    # 0 = no limit), and the provider balance below which the admins are alerted (0 = never).
    provider_limits: _Names = Field(
        ("apikley=25/250",),
        description="comma-separated name=concurrent/per_hour, e.g. apikley=25/250",
    )
    provider_low_balance: float = Field(0.0, ge=0, description="a number >= 0 (0 = no alert)")
    # issue 15: Telegram Stars top-ups and referrals.
    credit_packs: _Packs = Field(
        DEFAULT_CREDIT_PACKS,
        description="comma-separated credits:stars pairs such as 10:50,50:200, or off",
    )
    referral_bonus: int = Field(0, ge=0, le=1000, description="an integer from 0 to 1000")
    paysupport_text: str | None = Field(None, max_length=4000, description="a text")
    terms_text: str | None = Field(None, max_length=4000, description="a text")
    spicy_in_groups: bool = Field(False, description=_BOOL)
    display_timezone: str | None = Field(
        None, description="an IANA time zone such as Europe/Berlin"
    )
    # Per-user limits on what costs the bot without costing the user (drafts, hosted photos).
    max_drafts_per_user: int = Field(10, ge=1, description="an integer >= 1")
    max_hosted_mb_per_user: int = Field(50, ge=10, description="an integer >= 10 (MB)")
    photos_per_minute: int = Field(20, ge=1, description="an integer >= 1")
    # Issue 17: a replica silent this long (PostgreSQL) loses its unfinished jobs to another.
    replica_lease_s: float = Field(30.0, ge=1, description="a number of seconds >= 1")

    @field_validator("telegram_bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN_RE.fullmatch(value.get_secret_value()):
            raise ValueError(
                "expected the token @BotFather gave you: digits, a colon, then letters, digits,"
                " _ or - (value not shown)"
            )
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET_RE.fullmatch(value.get_secret_value()):
            raise ValueError(
                "expected 1-256 characters from A-Z, a-z, 0-9, _ and - (Telegram's rule for"
                " secret_token; value not shown)"
            )
        return value

    @field_validator(
        "telegram_api_base_url", "public_base_url", *(f"{n}_base_url" for n in REMOTE_PROVIDERS)
    )
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value, base=True)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value, base=False)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value().strip()
        if not url:
            return None
        parsed = urlsplit(url)
        if parsed.scheme not in ("postgresql", "postgres") or not parsed.path.strip("/"):
            raise ValueError(
                "expected postgresql://user:password@host:port/database (value not shown)"
            )
        return SecretStr(url)

    @field_validator("media_dir", mode="before")
    @classmethod
    def _default_media_dir(cls, value: object, info: ValidationInfo) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            # database_path is declared first, so it is validated by now (unless it failed).
            database = info.data.get("database_path", cls.model_fields["database_path"].default)
            return Path(database).parent / "media"
        return value

    @field_validator("provider_order", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(n.lower() for n in _LIST_SEP_RE.split(value) if n)
        return value

    @field_validator("provider_order")
    @classmethod
    def _check_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [n for n in value if n not in KNOWN_PROVIDERS]
        if unknown:
            raise ValueError(
                f"unknown provider {', '.join(map(repr, unknown))};"
                f" expected names from {', '.join(KNOWN_PROVIDERS)}"
            )
        if not value or len(set(value)) != len(value):
            raise ValueError("expected one or more distinct provider names, comma-separated")
        return value

    @field_validator("provider_limits", mode="before")
    @classmethod
    def _split_limits(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(n.lower() for n in _LIST_SEP_RE.split(value) if n)
        return value

    @field_validator("provider_limits")
    @classmethod
    def _check_limits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            match = _LIMIT_RE.fullmatch(entry)
            if match is None or match.group(1) not in REMOTE_PROVIDERS:
                raise ValueError(
                    f"expected name=concurrent/per_hour with a name from"
                    f" {', '.join(REMOTE_PROVIDERS)} and integers >= 0, got {entry!r}"
                )
        names = [e.partition("=")[0] for e in value]
        if len(set(names)) != len(names):
            raise ValueError("each provider may appear once")
        return value

    def limits(self) -> dict[str, tuple[int, int]]:
        """PROVIDER_LIMITS as name -> (max concurrent tasks, max creations per hour); 0 = none."""
        out: dict[str, tuple[int, int]] = {}
        for entry in self.provider_limits:
            match = _LIMIT_RE.fullmatch(entry)
            if match is not None:
                out[match.group(1)] = (int(match.group(2)), int(match.group(3)))
        return out

    @field_validator("admin_user_ids", "allowed_chat_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if value is None:
            return frozenset()
        return [i for i in _LIST_SEP_RE.split(value) if i] if isinstance(value, str) else value

    @field_validator("credit_packs", mode="before")
    @classmethod
    def _parse_packs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value.strip().lower() in _PACKS_OFF:
            return ()
        packs: list[tuple[int, int]] = []
        for item in (i for i in _LIST_SEP_RE.split(value) if i):
            credits, sep, stars = item.partition(":")
            if not sep or not credits.isdigit() or not stars.isdigit():
                raise ValueError(
                    f"expected credits:stars pairs such as 10:50,50:200 (or off), got {item!r}"
                )
            packs.append((int(credits), int(stars)))
        return tuple(packs)

    @field_validator("credit_packs")
    @classmethod
    def _check_packs(cls, value: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        if len(value) > MAX_PACKS:
            raise ValueError(f"expected at most {MAX_PACKS} packs")
        for credits, stars in value:
            if not 1 <= credits <= 1_000_000 or not 1 <= stars <= MAX_PACK_STARS:
                raise ValueError(
                    f"expected 1-1000000 credits for 1-{MAX_PACK_STARS} stars per pack,"
                    f" got {credits}:{stars}"
                )
        if len({credits for credits, _ in value}) != len(value):
            raise ValueError("expected packs with distinct credit counts (they name the pack)")
        return tuple(sorted(value))

    @field_validator("group_mode", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_level(cls, value: object) -> object:
        name = value.strip().upper() if isinstance(value, str) else value
        if name not in logging.getLevelNamesMapping():
            raise ValueError(
                f"expected a logging level name (DEBUG, INFO, WARNING, ERROR), got {value!r}"
            )
        return name

    @field_validator("display_timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"expected an IANA time zone such as Europe/Berlin, got {value!r}"
            ) from None
        return value.strip()

    @field_validator("prices_file")
    @classmethod
    def _check_prices_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"expected the path of an existing file, {str(value)!r} not found")
        return value

    @model_validator(mode="after")
    def _check_together(self) -> Settings:
        problems = _cross_field_problems(self.__dict__)
        if problems:
            raise PydanticCustomError(
                _CROSS_FIELD, "{problems}", {"problems": "\n".join(problems)}
            )
        return self

    def provider_keys(self) -> dict[str, SecretStr]:
        """Configured remote providers, name -> API key; PROVIDER_ORDER names first."""
        keys: dict[str, SecretStr | None] = {
            name: getattr(self, f"{name}_api_key") for name in REMOTE_PROVIDERS
        }
        order = [*(n for n in self.provider_order if n in keys), *keys]
        return {n: key for n in dict.fromkeys(order) if (key := keys[n]) is not None}

    @property
    def webhook_mode(self) -> bool:
        """True when Telegram pushes updates to TELEGRAM_WEBHOOK_URL instead of being polled."""
        return self.telegram_webhook_url is not None

    @property
    def webhook_path_token(self) -> str | None:
        """The random-looking path segment added to the webhook URL (None when not added).

        An HMAC of a fixed label keyed by the webhook secret (the bot token without one): stable
        across restarts, unguessable without the key, and it reveals nothing of the key itself.
        """
        if not self.webhook_mode or not self.telegram_webhook_random_path:
            return None
        key = self.telegram_webhook_secret or self.telegram_bot_token
        digest = hmac.new(key.get_secret_value().encode(), _PATH_LABEL, hashlib.sha256)
        return digest.hexdigest()[:32]

    @property
    def webhook_endpoint(self) -> str | None:
        """The URL given to setWebhook: TELEGRAM_WEBHOOK_URL plus the path token."""
        url, token = self.telegram_webhook_url, self.webhook_path_token
        if url is None or token is None:
            return url
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{token}"))


class ConfigError(Exception):
    """The configuration is missing or invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.problems = list(problems)

    def __str__(self) -> str:
        return "Invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems)


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path | None = Path(".env")
) -> Settings:
    """Validate `environ` (default `os.environ`) over an optional `.env`; raise `ConfigError`."""
    raw = _collect(os.environ if environ is None else environ, env_file)
    problems: list[str] = []
    try:
        return Settings(**raw)
    except ValidationError as exc:
        problems = [p for e in exc.errors(include_url=False) if (p := _describe(e))]
    # Computed from the raw strings, so they are reported even when field errors stopped pydantic
    # before its model validator. Raised outside `except`: the pydantic error (which quotes the
    # input values, secrets included) must not ride along as __context__ into a traceback.
    raise ConfigError(problems + _cross_field_problems(raw))


def _collect(environ: Mapping[str, str], env_file: Path | None) -> dict[str, Any]:
    """Merge the `.env` file and `environ` (which wins) into field-name -> non-blank string."""
    merged: dict[str, str | None] = {}
    if env_file is not None and env_file.is_file():
        merged.update(dotenv_values(env_file, interpolate=False))
    merged.update(environ)
    fields = Settings.model_fields
    # Blank means unset (compose passes `VAR=` through), so the default applies.
    return {k.lower(): v for k, v in merged.items() if k.lower() in fields and v and v.strip()}


def _describe(error: ErrorDetails) -> str | None:
    """One problem line for one pydantic error, quoting the input only for non-secret fields."""
    if error["type"] in (_CROSS_FIELD, "default_factory_not_called") or not error["loc"]:
        return None
    name = str(error["loc"][0])
    var, field = name.upper(), Settings.model_fields[name]
    if error["type"] == "missing":
        return f"{var}: required ({field.description})"
    if error["type"] == "value_error":
        return f"{var}: {error.get('ctx', {}).get('error', error['msg'])}"
    secret = field.annotation is SecretStr or SecretStr in get_args(field.annotation)
    got = "" if secret else f" (got {error['input']!r})"
    return f"{var}: expected {field.description}{got}"


def _cross_field_problems(values: Mapping[str, Any]) -> list[str]:
    """Rules spanning several variables; works on raw strings and on validated values alike."""
    problems: list[str] = []
    keys = [
        f"{n.upper()}_API_KEY" for n in REMOTE_PROVIDERS if _is_set(values.get(f"{n}_api_key"))
    ]
    public, webhook = values.get("public_base_url"), values.get("telegram_webhook_url")
    if keys and not _is_set(public):
        problems.append(
            f"PUBLIC_BASE_URL: required because {' and '.join(keys)} {'are' if keys[1:] else 'is'}"
            " set: remote providers fetch the photo from the bot and call it back, so they need"
            " the bot's public https:// URL"
        )
    if _is_set(values.get("telegram_webhook_secret")) and not _is_set(webhook):
        problems.append(
            "TELEGRAM_WEBHOOK_SECRET: set without TELEGRAM_WEBHOOK_URL; the secret only guards"
            " the webhook (set both for webhook mode, or neither for polling)"
        )
    insecure = _flag(_value(values, "telegram_webhook_insecure"))
    if _is_set(webhook) and not _is_set(values.get("telegram_webhook_secret")) and not insecure:
        problems.append(
            "TELEGRAM_WEBHOOK_SECRET: required in webhook mode: without it anyone who finds the"
            " webhook URL can post forged updates (an admin's /grant, too). Set"
            " TELEGRAM_WEBHOOK_INSECURE=true to run without one (local development only)"
        )
    private_checked = _flag(_value(values, "allow_private_urls")) is False
    if private_checked:
        for var, url in (("PUBLIC_BASE_URL", public), ("TELEGRAM_WEBHOOK_URL", webhook)):
            if problem := _public_url_problem(url):
                problems.append(f"{var}: {problem} (ALLOW_PRIVATE_URLS=true is for local tests)")
    if not (private_checked and _public_url_problem(webhook)):  # one line per variable
        if problem := _webhook_port_problem(webhook, _flag(_value(values, "telegram_local_mode"))):
            problems.append(f"TELEGRAM_WEBHOOK_URL: {problem}")
    initial, top = _number(_value(values, "poll_initial_s")), _number(_value(values, "poll_max_s"))
    if initial is not None and top is not None and top < initial:
        problems.append("POLL_MAX_S: expected at least POLL_INITIAL_S (the backoff's ceiling)")
    return problems


def _value(values: Mapping[str, Any], name: str) -> object:
    return values.get(name, Settings.model_fields[name].default)


def _is_set(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _flag(value: object) -> bool | None:
    """A bool as pydantic reads it; None when unreadable (its own error is reported already)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _check_http_url(value: str, *, base: bool) -> str:
    """A syntactically sound http(s) URL; a base URL loses its trailing slash."""
    url = value.strip().rstrip("/") if base else value.strip()
    # A webhook URL may carry a secret path, so only base URLs are quoted back.
    got = f", got {value!r}" if base else ""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise ValueError(f"expected an http(s):// URL with a host name{got}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s):// URL with a host name{got}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("expected a URL without user:password@ (value not shown)")
    if base and (parts.query or parts.fragment):
        raise ValueError(f"expected a base URL without ?query or #fragment{got}")
    return url


def _public_url_problem(url: object) -> str | None:
    """Why `url` cannot be reached from the internet over TLS, judged from its text alone (the
    SSRF guard's own parser and address rules: one reading for every URL the bot uses)."""
    if not _is_set(url):
        return None
    try:
        _check_http_url(str(url), base=False)
    except ValueError:
        return None  # malformed: its field check reports that
    return public_url_problem(str(url).strip())


# The only ports the cloud Bot API delivers webhooks to (setWebhook refuses the others).
WEBHOOK_PORTS = (80, 88, 443, 8443)


def _webhook_port_problem(url: object, local_mode: bool | None) -> str | None:
    """Why the cloud Bot API would refuse `url` in setWebhook (a local server takes any)."""
    if not _is_set(url) or local_mode:
        return None
    try:
        parts = urlsplit(_check_http_url(str(url), base=False))
    except ValueError:
        return None  # malformed: its field check reports that
    ports = ", ".join(map(str, WEBHOOK_PORTS))
    if parts.scheme != "https":
        return (
            "expected an https:// URL: Telegram delivers webhooks only over HTTPS"
            " (plain http:// needs TELEGRAM_LOCAL_MODE=true and a local Bot API server)"
        )
    port = parts.port or 443
    if port not in WEBHOOK_PORTS:
        return (
            f"port {port} is not one Telegram delivers webhooks to; use {ports}"
            " (or put the bot behind a reverse proxy listening on one of them)"
        )
    return None
