"""The PostgreSQL test server's rule: locally a missing server skips with its reason, under CI
it is an error (CI can never pass without running the PostgreSQL tests)."""

from __future__ import annotations

import pytest

from tests.pg_server import _unavailable


def test_without_a_server_the_tests_skip_locally_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="initdb not found"):
        _unavailable("initdb not found")


@pytest.mark.parametrize("value", ["true", "1"])
def test_under_ci_a_missing_server_is_an_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="unavailable under CI: initdb not found"):
        _unavailable("initdb not found")
