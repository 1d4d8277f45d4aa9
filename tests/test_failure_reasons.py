"""The typed failure vocabulary: every reason a job can fail with has words for the user, every
provider kind is a reason, and a value an older version stored still reads sensibly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.models import ErrorKind, FailureReason, Job, JobStatus
from bot.telegram import views
from bot.texts.en import EN
from bot.texts.ru import RU


def sample_job() -> Job:
    fields: dict[str, object] = {name: None for name in Job.__dataclass_fields__}
    fields.update(
        id=1,
        user_id=1,
        chat_id=1,
        photo_message_id=1,
        photo_file_id="x",
        photo_width=640,
        photo_height=480,
        prompt="waves",
        model="grok",
        options={},
        price=1,
        status=JobStatus.FAILED,
        callback_secret="s",
        tried_providers=(),
        language="en",
        created_at=1000.0,
        updated_at=1000.0,
        not_found_count=0,
    )
    return Job(**fields)  # type: ignore[arg-type]


def test_every_provider_kind_is_a_failure_reason() -> None:
    for kind in ErrorKind:
        assert FailureReason.of_task(kind).value == kind.value
    assert FailureReason.of_task(None) is FailureReason.UPSTREAM


def test_every_text_a_failure_shows_exists_in_both_catalogs() -> None:
    for key in {*views.FAILURE_TEXTS.values(), "fail_upstream"}:
        assert key in EN and key in RU, key


@pytest.mark.parametrize("stored", [None, "", "some_kind_from_an_older_version"])
def test_an_unknown_stored_reason_reads_as_the_providers_problem(stored: str | None) -> None:
    job: Job = replace(sample_job(), error_kind=stored)
    assert job.failure is None
    assert views.failure_reason(job) == EN["fail_upstream"]


def test_each_reason_reads_as_its_own_text() -> None:
    for reason, key in views.FAILURE_TEXTS.items():
        job = replace(sample_job(), error_kind=reason.value)
        assert job.failure is reason
        assert views.failure_reason(job) == EN[key]
