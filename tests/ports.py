"""Ports for servers a test configures before they start (the bot's HTTP_PORT, PostgreSQL).

`bind(0)` then closing the socket is not enough once the suite runs on several pytest-xdist
workers: another worker's `bind(0)` or outgoing connection can take the port before our server
binds it. So each worker draws from its own block of ports below the kernel's ephemeral range
(where `bind(0)` and outgoing connections take theirs), in turn, skipping any port in use.
"""

from __future__ import annotations

import itertools
import os
import socket

_FIRST = 12000
_EPHEMERAL_START = 32768  # Linux's default ip_local_port_range starts here


def _block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    size = (_EPHEMERAL_START - _FIRST) // workers
    start = _FIRST + index * size
    return range(start, start + size)


_candidates = itertools.cycle(_block())


def free_port() -> int:
    """A port on 127.0.0.1 that is free now and that no other worker hands out."""
    for _ in range(len(_block())):
        port = next(_candidates)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port left in this worker's block")
