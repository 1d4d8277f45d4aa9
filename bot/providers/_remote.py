"""What every HTTP adapter shares: its client, key and base URL, one call helper, and the
parts of the provider seam that are the same for all of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from bot.catalog import ModelSpec
from bot.models import ErrorKind
from bot.providers import _http
from bot.providers._parsing import classify_create_refusal
from bot.providers.base import InvalidCallback, WakeUp
from bot.providers.errors import ProviderError


class RemoteProvider:
    """Base of the vendor adapters; a subclass sets `name`, `catalog` and `_map_error`."""

    name: str = ""
    uses_callbacks: bool = False
    needs_public_image: bool = True
    result_retention_s: float | None = None  # unknown unless the vendor documents it
    english_only_prompts: bool = False
    catalog: ClassVar[Mapping[str, ModelSpec]] = {}

    def __init__(self, client: httpx.AsyncClient, *, api_key: str, base_url: str) -> None:
        self.models: dict[str, ModelSpec] = dict(self.catalog)
        self._client = client
        self._api_key = api_key
        self._base = base_url.rstrip("/")

    def _map_error(self, status: int, body: Any, response: httpx.Response) -> ProviderError:
        """The vendor's one mapping of a failed answer onto the error tree."""
        raise NotImplementedError

    def _body_error(self, body: Any, response: httpx.Response) -> ProviderError | None:
        """A failure hidden in a 2xx body (vendors that put their status code in the body)."""
        return None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        create: bool = False,
    ) -> Any:
        for attempt in (1, 2):
            try:
                return await self._send(method, path, json=json, params=params, create=create)
            except ProviderError as exc:
                if not create:
                    raise
                blamed = classify_create_refusal(exc)
                # The vendor could not fetch our photo (a refusal: no task was made): that is
                # worth one more try after a pause, like a 5xx, before failing over.
                fetch_failed = (
                    exc.kind is ErrorKind.VALIDATION and blamed.kind is ErrorKind.UPSTREAM
                )
                if attempt == 1 and fetch_failed:
                    await _http._sleep(_http._backoff(1))
                    continue
                raise blamed from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None,
        params: dict[str, Any] | None,
        create: bool,
    ) -> Any:
        return await _http.call_json(
            self._client,
            self.name,
            method,
            f"{self._base}{path}",
            api_key=self._api_key,
            json=json,
            params=params,
            create=create,
            map_error=self._map_error,
            body_error=self._body_error,
        )

    in_process = False

    def cancel(self, task_id: str) -> bool:
        """No vendor documents a cancel endpoint: the task runs on (and may be billed)."""
        return False

    def discard(self, task_id: str) -> None:
        """Nothing of a remote task is kept here."""

    async def balance(self) -> float | None:
        """The account balance where the vendor documents an endpoint for it, else None."""
        return None

    def callback_task_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """Vendors without documented callbacks refuse every callback."""
        raise InvalidCallback(f"{self.name} sends no callbacks")

    def bind_wakeup(self, wake: WakeUp) -> None:
        """Remote provider: completion arrives by callback or poll, never in process."""

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared."""
