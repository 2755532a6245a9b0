"""A real HTTP server for tests receiving Apprise `json://` posts, keeping them in memory.

Each path (`json://127.0.0.1:PORT/<path>`) is its own endpoint; `answer(path, 500)` makes that
one answer with an error status until it is told otherwise."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Posted:
    path: str
    title: str
    message: str


@dataclass
class JsonSink:
    port: int = 0
    received: list[Posted] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path.strip('/')}"

    def answer(self, path: str, status: int) -> None:
        with self._lock:
            self.statuses["/" + path.strip("/")] = status

    def to(self, path: str) -> list[Posted]:
        with self._lock:
            return [post for post in self.received if post.path == "/" + path.strip("/")]

    def _post(self, path: str, payload: dict[str, Any]) -> int:
        with self._lock:
            status = self.statuses.get(path, 200)
            if status < 300:
                self.received.append(
                    Posted(path, str(payload.get("title", "")), str(payload.get("message", "")))
                )
            return status


@contextmanager
def json_sink() -> Iterator[JsonSink]:
    sink = JsonSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}")
            status = sink._post(self.path.split("?")[0], payload)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
