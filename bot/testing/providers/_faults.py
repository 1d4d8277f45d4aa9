"""Fault injection for the fake providers: armed per route, answered in the vendor's own body."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from aiohttp import web

from bot.testing.providers._records import NAMED_FAULTS, ROUTES, Fault

_HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class FaultInjection:
    """`inject()` and the fault queues; mixed into `FakeProviderServer`."""

    _faults: dict[str, deque[Fault]]

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        """The vendor's error body for HTTP `status`."""
        raise NotImplementedError

    def inject(
        self,
        fault: str,
        route: str,
        times: int = 1,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        """Arm `fault` ("429", "500", "html502", "timeout", "malformed", any status) on `route`.

        Routes: create, query, download, callback. Status faults answer before any work is
        done; "timeout" (never answers until `stop`) and "malformed" (200 with a truncated
        body) happen after the fake did the work, so a create still makes its task. On the
        callback route "timeout"/"drop" lose the callback and "malformed" truncates its body.
        """
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; use one of {ROUTES}")
        is_status = fault.isdigit() and len(fault) == 3
        if fault not in NAMED_FAULTS and not is_status:
            raise ValueError(f"unknown fault {fault!r}")
        if route == "callback" and fault not in ("timeout", "drop", "malformed"):
            raise ValueError("the callback route takes 'timeout', 'drop' or 'malformed'")
        if fault == "drop" and route != "callback":
            raise ValueError("'drop' applies to the callback route only")
        self._faults[route].append(Fault(fault, times, retry_after, message))

    def _take_fault(self, route: str) -> Fault | None:
        queue = self._faults.get(route)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    def _fault_response(self, fault: Fault) -> web.Response:
        headers = {"Retry-After": str(round(fault.retry_after))} if fault.retry_after else None
        if fault.kind == "html502":
            return web.Response(status=502, text=_HTML_502, content_type="text/html")
        return self.error_response(int(fault.kind), fault.message, headers=headers)
