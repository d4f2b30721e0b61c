"""The part every fake HTTP server shares: a threaded server on 127.0.0.1 at a free
port, served from a daemon thread between ``start()`` and ``stop()``."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Generic, TypeVar

Owner = TypeVar("Owner")


class LocalHTTPServer(ThreadingHTTPServer, Generic[Owner]):
    """Serves ``handler``; handlers reach the fake they answer for as ``server.owner``."""

    daemon_threads = True

    def __init__(self, owner: Owner, handler: type[BaseHTTPRequestHandler]) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{type(owner).__name__}-http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)
