"""The operator contract: bot.config.load_settings and .env.example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot.config import KNOWN_PROVIDERS, ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:ABC-def_ghi"
BASE = {"TELEGRAM_BOT_TOKEN": TOKEN}
# Lines like `VAR=value` or `# VAR=value`; explanation comments never start with `VAR=`.
ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def load(**env: str) -> Settings:
    return load_settings({**BASE, **env}, env_file=None)


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(env, env_file=None)
    return info.value.problems


def variables(lines: list[str]) -> list[str]:
    return [line.split(":", 1)[0] for line in lines]


def test_token_alone_gives_the_documented_defaults() -> None:
    s = load()
    assert s.telegram_bot_token.get_secret_value() == TOKEN
    assert s.telegram_api_base_url == "https://api.telegram.org"
    assert (s.http_host, s.http_port) == ("0.0.0.0", 8080)  # noqa: S104 (a value, not a bind)
    assert s.database_path == Path("data/photo2video.db")
    assert s.media_dir == Path("data/media")
    assert s.provider_order == ("evolink", "apikley", "foxapi", "aimlapi")
    assert s.provider_keys() == {}
    assert not s.webhook_mode
    assert (s.daily_quota, s.max_active_jobs_per_user, s.refund_on_cancel) == (5, 2, True)
    assert (s.admin_user_ids, s.allowed_chat_ids) == (frozenset(), frozenset())
    assert (s.group_mode, s.log_format, s.log_level) == ("open", "text", "INFO")
    assert (s.poll_initial_s, s.poll_max_s, s.callback_grace_s) == (3.0, 30.0, 20.0)
    assert (s.job_deadline_floor_s, s.media_ttl_s) == (900.0, 10800.0)


def test_every_problem_is_listed_at_once() -> None:
    env = {
        "TELEGRAM_API_BASE_URL": "ftp://api.example.org",
        "HTTP_PORT": "eighty",
        "DAILY_QUOTA": "-1",
        "MAX_ACTIVE_JOBS_PER_USER": "0",
        "ADMIN_USER_IDS": "1,alice",
        "ALLOW_PRIVATE_URLS": "maybe",
        "GROUP_MODE": "closed",
        "LOG_FORMAT": "xml",
        "LOG_LEVEL": "loud",
        "PROVIDER_ORDER": "evolink,kling",
        "PRICES_FILE": "/nonexistent/prices.json",
        "POLL_INITIAL_S": "10",
        "POLL_MAX_S": "5",
        "EVOLINK_API_KEY": "sk-live",
        "TELEGRAM_WEBHOOK_SECRET": "s3cret",
    }
    err_lines = problems(env)
    assert variables(err_lines) == [
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_API_BASE_URL",
        "HTTP_PORT",
        "PROVIDER_ORDER",
        "DAILY_QUOTA",
        "ADMIN_USER_IDS",
        "ALLOW_PRIVATE_URLS",
        "MAX_ACTIVE_JOBS_PER_USER",
        "PRICES_FILE",
        "GROUP_MODE",
        "LOG_FORMAT",
        "LOG_LEVEL",
        # cross-field rules come last, reported together with the field errors
        "PUBLIC_BASE_URL",
        "TELEGRAM_WEBHOOK_SECRET",
        "POLL_MAX_S",
    ]
    assert err_lines[0] == "TELEGRAM_BOT_TOKEN: required (the token @BotFather gave you)"
    assert "got 'eighty'" in err_lines[2] and "0 to 65535" in err_lines[2]
    assert "'kling'" in err_lines[3] and "aimlapi" in err_lines[3]
    assert "got 'alice'" in err_lines[5]


def test_error_text_is_one_readable_block() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"HTTP_PORT": "x"}, env_file=None)
    assert str(info.value) == (
        "Invalid configuration:\n"
        "  - TELEGRAM_BOT_TOKEN: required (the token @BotFather gave you)\n"
        "  - HTTP_PORT: expected an integer from 0 to 65535 (0 = any free port) (got 'x')"
    )


def test_no_secret_value_reaches_the_error() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "xyzzy-token-no-colon",
        "TELEGRAM_WEBHOOK_SECRET": "xyzzy webhook with spaces",
        "EVOLINK_API_KEY": "xyzzy-evolink",
        "METRICS_TOKEN": "xyzzy-metrics",
        "TELEGRAM_WEBHOOK_URL": "http://127.0.0.1/xyzzy-path",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env, env_file=None)
    err = info.value
    assert variables(err.problems) == [
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "PUBLIC_BASE_URL",
        "TELEGRAM_WEBHOOK_URL",
    ]
    # Raised outside the pydantic handler: no chained ValidationError quoting the inputs.
    assert err.__cause__ is None and err.__context__ is None
    assert "xyzzy" not in str(err) + repr(err)


def test_secrets_are_masked_in_repr() -> None:
    s = load(EVOLINK_API_KEY="sk-live-xyz", PUBLIC_BASE_URL="https://bot.example.com")
    assert "sk-live-xyz" not in repr(s) and TOKEN not in repr(s)
    assert s.provider_keys() == {"evolink": SecretStr("sk-live-xyz")}


def test_direct_construction_hides_inputs_in_its_error() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(telegram_bot_token=SecretStr(TOKEN), evolink_api_key=SecretStr("sk-hidden"))
    assert "PUBLIC_BASE_URL: required" in str(info.value)
    assert "sk-hidden" not in str(info.value) and TOKEN not in str(info.value)


def test_settings_are_frozen() -> None:
    s = load()
    with pytest.raises(ValidationError):
        s.http_port = 1  # type: ignore[misc]


@pytest.mark.parametrize("token", ["123456", "abc:def", "123:", "123:has space", ":abc"])
def test_malformed_token_is_refused(token: str) -> None:
    assert problems({"TELEGRAM_BOT_TOKEN": token}) == [
        "TELEGRAM_BOT_TOKEN: expected the token @BotFather gave you: digits, a colon, then"
        " letters, digits, _ or - (value not shown)"
    ]


def test_comma_separated_lists_parse_from_env() -> None:
    s = load(
        ADMIN_USER_IDS=" 1, 22 ,333",
        ALLOWED_CHAT_IDS="-1001,-1002",
        PROVIDER_ORDER=" Apikley , local,evolink ",
    )
    assert s.admin_user_ids == frozenset({1, 22, 333})
    assert s.allowed_chat_ids == frozenset({-1001, -1002})
    assert s.provider_order == ("apikley", "local", "evolink")
    assert load(ADMIN_USER_IDS="").admin_user_ids == frozenset()


@pytest.mark.parametrize("order", ["evolink,evolink", ",", "evolink,openai"])
def test_bad_provider_order_is_refused(order: str) -> None:
    assert variables(problems({**BASE, "PROVIDER_ORDER": order})) == ["PROVIDER_ORDER"]


def test_known_providers_include_the_local_renderer() -> None:
    assert KNOWN_PROVIDERS == ("evolink", "apikley", "foxapi", "aimlapi", "local")


def test_provider_keys_follow_provider_order() -> None:
    s = load(
        PUBLIC_BASE_URL="https://bot.example.com",
        EVOLINK_API_KEY="e",
        FOXAPI_API_KEY="f",
        AIMLAPI_API_KEY="a",
        PROVIDER_ORDER="aimlapi,foxapi",
    )
    keys = s.provider_keys()
    assert list(keys) == ["aimlapi", "foxapi", "evolink"]
    assert {n: k.get_secret_value() for n, k in keys.items()} == {
        "aimlapi": "a",
        "foxapi": "f",
        "evolink": "e",
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("false", False), ("1", True), ("0", False), ("YES", True), ("no", False)],
)
def test_booleans(text: str, value: bool) -> None:
    s = load(TELEGRAM_LOCAL_MODE=text, ALLOW_PRIVATE_URLS=text, REFUND_ON_CANCEL=text)
    assert (s.telegram_local_mode, s.allow_private_urls, s.refund_on_cancel) == (value,) * 3


def test_trailing_slashes_are_stripped_from_base_urls() -> None:
    s = load(
        PUBLIC_BASE_URL="https://bot.example.com/p2v/",
        TELEGRAM_API_BASE_URL="http://127.0.0.1:8081/",
        EVOLINK_BASE_URL="http://127.0.0.1:9000/",
    )
    assert s.public_base_url == "https://bot.example.com/p2v"
    assert s.telegram_api_base_url == "http://127.0.0.1:8081"
    assert s.evolink_base_url == "http://127.0.0.1:9000"


def test_provider_key_requires_public_base_url() -> None:
    (line,) = problems({**BASE, "APIKLEY_API_KEY": "k"})
    assert line.startswith("PUBLIC_BASE_URL: required because APIKLEY_API_KEY is set")
    assert "fetch the photo from the bot and call it back" in line


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://bot.example.com", "https://"),
        ("https://localhost:8443", "'localhost' is a local name"),
        ("https://printer.local", "local name"),
        ("https://127.0.0.1", "loopback"),
        ("https://10.1.2.3", "private"),
        ("https://192.168.0.10:8443/x", "private"),
        ("https://[::1]:8080", "loopback"),
        ("https://[::ffff:127.0.0.1]", "loopback"),
        ("https://127.1", "numeric address"),
        ("https://bot", "single-label"),
    ],
)
def test_private_or_plain_http_urls_are_refused(url: str, reason: str) -> None:
    webhook = {"TELEGRAM_WEBHOOK_URL": url + "/tg", "TELEGRAM_WEBHOOK_SECRET": "abc"}
    lines = problems({**BASE, "PUBLIC_BASE_URL": url, **webhook})
    assert variables(lines) == ["PUBLIC_BASE_URL", "TELEGRAM_WEBHOOK_URL"]
    assert all(reason in line and "ALLOW_PRIVATE_URLS=true" in line for line in lines)
    s = load(
        PUBLIC_BASE_URL=url,
        ALLOW_PRIVATE_URLS="true",
        TELEGRAM_LOCAL_MODE="true",  # a local Bot API server: webhooks on any port
        **webhook,
    )
    assert s.public_base_url == url and s.webhook_mode


@pytest.mark.parametrize(
    "url", ["https://bot.example.com", "https://8.8.8.8", "https://[2001:db9::1]"]
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert load(PUBLIC_BASE_URL=url, EVOLINK_API_KEY="k").public_base_url == url


@pytest.mark.parametrize(
    "url", ["bot.example.com", "ftp://bot.example.com", "https://", "https://h:99999"]
)
def test_malformed_urls_are_refused_once(url: str) -> None:
    (line,) = problems({**BASE, "PUBLIC_BASE_URL": url})
    assert line.startswith("PUBLIC_BASE_URL: expected an http(s):// URL with a host name")


def test_urls_with_credentials_are_refused_without_quoting_them() -> None:
    (line,) = problems({**BASE, "EVOLINK_BASE_URL": "https://user:pw-xyzzy@api.example"})
    assert line.startswith("EVOLINK_BASE_URL: expected a URL without user:password@")
    assert "xyzzy" not in line


def test_webhook_secret_needs_a_webhook_url() -> None:
    (line,) = problems({**BASE, "TELEGRAM_WEBHOOK_SECRET": "abc"})
    assert line.startswith("TELEGRAM_WEBHOOK_SECRET: set without TELEGRAM_WEBHOOK_URL")


@pytest.mark.parametrize("secret", ["a", "A-z_09" * 42 + "abcd"])
def test_webhook_secret_accepts_telegrams_charset(secret: str) -> None:
    s = load(TELEGRAM_WEBHOOK_URL="https://bot.example.com/tg", TELEGRAM_WEBHOOK_SECRET=secret)
    assert s.telegram_webhook_secret is not None
    assert s.telegram_webhook_secret.get_secret_value() == secret


@pytest.mark.parametrize("secret", ["has space", "dot.ted", "x" * 257, "ключ"])
def test_webhook_secret_outside_the_charset_is_refused(secret: str) -> None:
    env = {**BASE, "TELEGRAM_WEBHOOK_URL": "https://b.example.com/tg"}
    assert variables(problems({**env, "TELEGRAM_WEBHOOK_SECRET": secret})) == [
        "TELEGRAM_WEBHOOK_SECRET"
    ]


@pytest.mark.parametrize(
    ("port", "ok"), [("0", True), ("65535", True), ("65536", False), ("-1", False)]
)
def test_http_port_range(port: str, ok: bool) -> None:
    if ok:
        assert load(HTTP_PORT=port).http_port == int(port)
    else:
        assert variables(problems({**BASE, "HTTP_PORT": port})) == ["HTTP_PORT"]


def test_prices_file_must_exist(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    assert variables(problems({**BASE, "PRICES_FILE": str(prices)})) == ["PRICES_FILE"]
    prices.write_text("{}")
    assert load(PRICES_FILE=str(prices)).prices_file == prices


def test_media_dir_defaults_next_to_the_database() -> None:
    assert load(DATABASE_PATH="/data/p2v.db").media_dir == Path("/data/media")
    assert load(DATABASE_PATH="/data/p2v.db", MEDIA_DIR="/srv/m").media_dir == Path("/srv/m")


def test_enums_and_level_are_case_insensitive() -> None:
    s = load(GROUP_MODE="Admins-Only", LOG_FORMAT="JSON", LOG_LEVEL="debug")
    assert (s.group_mode, s.log_format, s.log_level) == ("admins-only", "json", "DEBUG")


def test_blank_means_default_and_unknown_variables_are_ignored() -> None:
    s = load(HTTP_PORT="", PUBLIC_BASE_URL="  ", PATH="/usr/bin", SOMETHING_ELSE="x")
    assert (s.http_port, s.public_base_url) == (8080, None)
    assert problems({"TELEGRAM_BOT_TOKEN": " "}) == [
        "TELEGRAM_BOT_TOKEN: required (the token @BotFather gave you)"
    ]


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"TELEGRAM_BOT_TOKEN={TOKEN}\nHTTP_PORT=9000\nDAILY_QUOTA=7\n# DAILY_QUOTA=8\nOTHER=1\n"
    )
    s = load_settings({"HTTP_PORT": "9100"}, env_file=env_file)
    assert (s.http_port, s.daily_quota) == (9100, 7)
    # A missing optional .env is not an error.
    assert load_settings(BASE, env_file=tmp_path / "absent.env").http_port == 8080


def test_process_environment_is_read_only_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:FROM_ENV")
    monkeypatch.setenv("HTTP_PORT", "7000")
    assert load_settings(env_file=None).http_port == 7000
    # A given mapping is the whole environment: nothing leaks in from the shell.
    s = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}, env_file=None)
    assert (s.http_port, s.telegram_bot_token.get_secret_value()) == (8080, TOKEN)


def _env_example() -> list[tuple[str, str]]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return [(m[1], m[2]) for line in lines if (m := ASSIGNMENT.match(line))]


def test_env_example_lists_exactly_the_settings() -> None:
    names = [name for name, _ in _env_example()]
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert sorted(names) == sorted(f.upper() for f in Settings.model_fields)


def test_env_example_documents_the_real_defaults(tmp_path: Path) -> None:
    # Uncomment every line: the documented defaults must load to exactly the real defaults.
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in _env_example()))
    documented = load_settings(BASE, env_file=env_file)
    assert documented == load()
