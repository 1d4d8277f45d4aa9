"""Fuzzing the provider-callback door: bodies, content types and ids against the real server.

Malformed ids in the path (non-ASCII digits, 20+ digits) are the issue-16 server hardening's;
here ids are ASCII digits that fit a database integer, with real, wrong and missing secrets.
Invariants: no 5xx, a real job is never moved by a callback alone (the bot re-queries).
"""

from __future__ import annotations

import json

import httpx
from hypothesis import strategies as st

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.fuzz_support import draw
from tests.provider_e2e_helpers import ledger, only_job

BUDGET = 150
BODY = st.one_of(
    st.binary(max_size=120),
    st.recursive(
        st.one_of(st.none(), st.integers(), st.text(max_size=20), st.booleans()),
        lambda inner: st.dictionaries(
            st.sampled_from(["id", "task_id", "status", "results", "x"]), inner, max_size=4
        ),
        max_leaves=8,
    ).map(lambda v: json.dumps(v).encode()),
)
CASE = st.tuples(
    st.sampled_from(["real", "wrong_secret", "other_job", "no_secret", "other_provider"]),
    st.text(alphabet="0123456789", min_size=1, max_size=18),
    st.sampled_from(["application/json", "text/plain", "multipart/form-data", "", "x/y; a=b"]),
    BODY,
)


async def test_fuzzed_provider_callbacks_never_get_a_5xx_nor_move_a_job(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    cases = draw(CASE, BUDGET)
    statuses: list[int] = []
    async with start_bot() as runtime, httpx.AsyncClient() as client:
        _, options = await send_photo_and_get_options(tg, USER, "waves")
        await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
        await evolink.wait_task()
        job = await only_job(runtime, USER)
        base = f"http://127.0.0.1:{runtime.port}/callbacks"
        for kind, digits, content_type, body in cases:
            path = {
                "real": f"evolink/{job.id}-{job.callback_secret}",
                "wrong_secret": f"evolink/{job.id}-{digits}",
                "other_job": f"evolink/{digits}-{job.callback_secret}",
                "no_secret": f"evolink/{digits}",
                "other_provider": f"foxapi/{job.id}-{job.callback_secret}",
            }[kind]
            headers = {"Content-Type": content_type} if content_type else {}
            response = await client.post(f"{base}/{path}", content=body, headers=headers)
            statuses.append(response.status_code)
        after = await only_job(runtime, USER)
        money = await ledger(runtime, USER)
    assert all(s < 500 for s in statuses), sorted(set(statuses))
    # The task never finished at the provider: no callback, whatever it said, moved the job.
    assert after.status.value == "submitted" and money == [("allowance", 5), ("reserve", -1)]
    print(f"[fuzz callbacks] {len(cases)} posts, statuses {sorted(set(statuses))}")
