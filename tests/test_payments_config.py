"""CREDIT_PACKS, REFERRAL_BONUS and the texts: validated at start-up like every setting; the
invoice payload refuses anything the bot did not make."""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_CREDIT_PACKS, ConfigError, load_settings
from bot.payments.packs import CreditPack, packs_from
from bot.payments.payload import InvoicePayload, new_payload

BASE = {"TELEGRAM_BOT_TOKEN": "123:abc"}


def test_default_packs_and_parsing() -> None:
    assert load_settings(BASE, env_file=None).credit_packs == DEFAULT_CREDIT_PACKS
    s = load_settings({**BASE, "CREDIT_PACKS": " 50:200, 10:50 "}, env_file=None)
    assert s.credit_packs == ((10, 50), (50, 200))  # sorted by credits
    assert packs_from(s.credit_packs) == (CreditPack(10, 50), CreditPack(50, 200))
    for off in ("off", "none", "0"):
        assert load_settings({**BASE, "CREDIT_PACKS": off}, env_file=None).credit_packs == ()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("10-50", "credits:stars pairs"),
        ("10:abc", "credits:stars pairs"),
        ("10:0", "1-10000 stars"),
        ("10:10001", "1-10000 stars"),
        ("0:5", "1-1000000 credits"),
        ("10:50,10:60", "distinct credit counts"),
        (",".join(f"{n}:{n}" for n in range(1, 10)), "at most 8 packs"),
    ],
)
def test_bad_packs_are_refused_with_the_reason(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({**BASE, "CREDIT_PACKS": value}, env_file=None)
    assert any(p.startswith("CREDIT_PACKS:") and problem in p for p in err.value.problems)


def test_referral_bonus_and_texts() -> None:
    s = load_settings(
        {**BASE, "REFERRAL_BONUS": "3", "TERMS_TEXT": "Ours <b>", "PAYSUPPORT_TEXT": "x"},
        env_file=None,
    )
    assert (s.referral_bonus, s.terms_text, s.paysupport_text) == (3, "Ours <b>", "x")
    with pytest.raises(ConfigError) as err:
        load_settings({**BASE, "REFERRAL_BONUS": "-1"}, env_file=None)
    assert any(p.startswith("REFERRAL_BONUS:") for p in err.value.problems)


def test_the_payload_round_trips_and_refuses_anything_else() -> None:
    payload = new_payload(CreditPack(120, 400), 2**62)
    text = payload.encode()
    assert len(text.encode()) <= 128
    assert InvoicePayload.parse(text) == payload
    hostile = [
        "", "p2v1:10:50:1:short", text + "x", text.replace("p2v1", "p2v2"),
        "p2v1:-1:50:1:0123456789abcdef", "p2v1:10:50:1:0123456789ABCDEF", None,
    ]  # fmt: skip
    for candidate in hostile:
        assert InvoicePayload.parse(candidate) is None
