"""The container recipe: Dockerfile, .dockerignore and compose.yaml (Docker itself is not run)."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
# `pip install .`, `pip install -e ".[dev]"`, `python -m pip install --no-deps .` ...
INSTALLS_PROJECT = re.compile(r"pip install\b[^\n;&|]*?\s['\"]?\.(\[[\w,-]+\])?['\"]?(\s|$)")


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (continuations joined, comments dropped), per stage."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word, rest = word.upper(), " ".join(rest.split())
        if word == "ARG" and not stages and "=" in rest:
            name, _, default = rest.partition("=")
            args[name] = default
        if word == "FROM":
            rest = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], rest)
            stages.append([])
        if stages:
            stages[-1].append((word, rest))
    return stages


def values(stage: list[tuple[str, str]], word: str) -> list[str]:
    return [rest for w, rest in stage if w == word]


def test_image_installs_the_project_from_pyproject() -> None:
    builder = dockerfile_stages()[0]
    assert any("pyproject.toml" in copy.split() for copy in values(builder, "COPY"))
    assert any(INSTALLS_PROJECT.search(run) for run in values(builder, "RUN"))
    assert not [i for i in values(builder, "COPY") + values(builder, "RUN") if "requirements" in i]
    ci = ROOT / ".ci" / "run"
    if ci.exists():  # CI must install from the same source as the image
        ci_text = ci.read_text()
        assert INSTALLS_PROJECT.search(ci_text), ".ci/run does not pip-install the project"
        assert "requirements" not in ci_text


def test_image_copies_everything_the_build_needs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    needed = ["pyproject.toml", pyproject["project"]["readme"], *packages]
    copied = {src for copy in values(dockerfile_stages()[0], "COPY") for src in copy.split()[:-1]}
    assert set(needed) <= copied
    ignored = [
        p.strip().rstrip("/")
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith(("#", "!"))
    ]
    assert not [(n, p) for n in needed for p in ignored if fnmatch.fnmatch(n, p)]


def test_runtime_is_slim_non_root_and_keeps_its_data_in_a_volume() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage: builder + runtime"
    assert all(values(stage, "FROM")[0].startswith("python:3.11-slim") for stage in stages)
    runtime = stages[-1]
    assert any(copy.startswith("--from=") for copy in values(runtime, "COPY"))
    (user,) = values(runtime, "USER")
    assert user.split(":")[0] == "10001"
    assert any("--uid 10001" in run for run in values(runtime, "RUN"))
    assert "/data" in values(runtime, "VOLUME")
    envs = " ".join(values(runtime, "ENV")).split()
    assert "DATABASE_PATH=/data/photo2video.db" in envs
    assert "database_path" in Settings.model_fields
    assert values(runtime, "EXPOSE") == ["8080"]
    assert [json.loads(cmd) for cmd in values(runtime, "CMD")] == [["python", "-m", "bot"]]
    # Pillow and PyAV wheels bundle their codecs: no system packages.
    assert not [run for stage in stages for run in values(stage, "RUN") if "apt" in run]


async def run_healthcheck(status: int) -> tuple[int, list[str]]:
    """Run the image's HEALTHCHECK command against a local /healthz answering `status`."""
    (check,) = values(dockerfile_stages()[-1], "HEALTHCHECK")
    argv = json.loads(check[check.index("CMD ") + 4 :])
    assert argv[0] == "python" and "urllib" in argv[-1] and "/healthz" in argv[-1]
    seen: list[str] = []

    async def healthz(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        # A bare environment: no proxy variables can send the probe elsewhere.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv[1:], env={"HTTP_PORT": str(port)}
        )
        code = await asyncio.wait_for(proc.wait(), timeout=30)
    finally:
        await runner.cleanup()
    return code, seen


async def test_healthcheck_passes_on_a_healthy_bot() -> None:
    assert await run_healthcheck(200) == (0, ["/healthz"])


async def test_healthcheck_fails_on_an_unhealthy_bot() -> None:
    code, seen = await run_healthcheck(503)
    assert code != 0 and seen == ["/healthz"]


def compose_environment() -> dict[str, str]:
    text = (ROOT / "compose.yaml").read_text()
    block = re.search(r"^    environment:\n((?:      \S.*\n)+)", text, re.MULTILINE)
    assert block, "compose.yaml: the bot service has no environment block"
    pairs = (line.strip().split(": ", 1) for line in block[1].splitlines())
    return {k: v.strip('"') for k, v in pairs}


def test_compose_runs_the_bot_in_webhook_mode_behind_caddy() -> None:
    text = (ROOT / "compose.yaml").read_text()
    env = compose_environment()
    assert set(env) <= {name.upper() for name in Settings.model_fields}
    assert env["TELEGRAM_WEBHOOK_URL"].startswith("https://${DOMAIN")
    assert env["TELEGRAM_WEBHOOK_URL"].endswith("}/telegram/webhook")
    assert env["PUBLIC_BASE_URL"].startswith("https://${DOMAIN")
    assert re.search(r"^    env_file: \.env$", text, re.MULTILINE)
    assert re.search(r"^      - [\w-]+:/data$", text, re.MULTILINE), "a named volume for /data"
    assert f"reverse-proxy --from ${{DOMAIN:?set DOMAIN in .env}} --to bot:{env['HTTP_PORT']}" in (
        text
    )


def test_compose_environment_passes_the_config_contract() -> None:
    env = {
        k: re.sub(r"\$\{DOMAIN[^}]*\}", "bot.example.com", v)
        for k, v in compose_environment().items()
    }
    env |= {"TELEGRAM_BOT_TOKEN": "1:x", "EVOLINK_API_KEY": "k"}
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET: required"):
        load_settings(env, env_file=None)  # .env must hold the secret
    s = load_settings({**env, "TELEGRAM_WEBHOOK_SECRET": "abc"}, env_file=None)
    assert s.webhook_mode and s.public_base_url == "https://bot.example.com"
    assert s.telegram_webhook_url == "https://bot.example.com/telegram/webhook"
