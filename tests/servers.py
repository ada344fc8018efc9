"""Real HTTP servers that misbehave on purpose, for the tests of what the library fetches.

``HostileServer(routes, host)`` listens on ``host`` (127.0.0.1 by default; 127.0.0.2 is another
loopback address Linux answers without any setup) on a free port, in a thread, and answers each
path with its route: a function of the request handler. Helpers build the usual routes.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a trickling route's thread must not hold up teardown

    def __init__(self, routes: dict[str, Route], host: str = "127.0.0.1"):
        super().__init__((host, 0), _Handler)
        self.routes = routes
        self.hits: list[str] = []
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address):
        pass  # clients that hang up (deadlines, size caps) are expected here


class _Handler(BaseHTTPRequestHandler):
    server: HostileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            return body(b"no such list", status=404)(self)
        return route(self)

    do_HEAD = do_GET


def body(data: bytes | str, status: int = 200, content_type: str = "text/plain; charset=utf-8",
         headers: dict[str, str] | None = None, declared_length: int | None = None) -> Route:
    """Answer ``data``; ``declared_length`` lies about its size in Content-Length."""
    data = data.encode("utf-8") if isinstance(data, str) else data

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(declared_length if declared_length is not None else len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
    return route


def redirect(location: str, status: int = 302) -> Route:
    return body(b"", status=status, headers={"Location": location})


def trickle(chunk: bytes, every: float, total: int = 10_000_000, in_headers: bool = False) -> Route:
    """Send ``chunk`` every ``every`` seconds, forever (or ``total`` bytes): each read gets data, so
    only a total deadline ends it. With ``in_headers`` the status line itself trickles."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        try:
            if in_headers:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * total:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(every)
                return
            handler.send_response(200)
            handler.send_header("Content-Type", "text/csv")
            handler.send_header("Content-Length", str(total))
            handler.end_headers()
            sent = 0
            while sent < total:
                handler.wfile.write(chunk)
                handler.wfile.flush()
                sent += len(chunk)
                time.sleep(every)
        except OSError:
            pass  # the client gave up: what the test wants
    return route


def gzip_bomb(expanded: int) -> Route:
    """``expanded`` bytes of zeros after a gzip of a few kB, declared as Content-Encoding: gzip."""
    data = gzip.compress(b"0" * expanded, compresslevel=9)
    return body(data, content_type="text/csv", headers={"Content-Encoding": "gzip"})
