"""A real HTTP server on loopback that plays sms.ru's ``/sms/send`` (R-AUTH-8).

`FakeSmsRu` runs `http.server.ThreadingHTTPServer` in a daemon thread on a free port; use it as a context
manager. Its ``mode`` switches what it answers:

- ``"ok"``: sms.ru's success JSON for whatever number was sent;
- ``"error"``: a top-level ERROR (status_code 200, wrong api_id);
- ``"number_error"``: top-level OK, but the number itself refused (status_code 207);
- ``"slow"``: sleeps ``delay`` seconds, then answers like ``"ok"``;
- ``"garbage"``: HTTP 200 with ``<html>oops</html>``;
- ``"http500"``: HTTP 500;
- ``"custom"``: HTTP ``custom_status`` with ``custom_body`` (for odd JSON shapes).

Every request's query and form parameters are recorded in ``requests`` (a list of dicts, one value per key).
`closed_port()` gives a loopback port where nothing listens (connection refused).
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MODES = ("ok", "error", "number_error", "slow", "garbage", "http500", "custom")


def closed_port() -> int:
    """A loopback port with no listener: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ok_answer(to: str) -> dict[str, Any]:
    return {
        "status": "OK",
        "status_code": 100,
        "sms": {to: {"status": "OK", "status_code": 100, "sms_id": "000000-10000000"}},
        "balance": 4122.56,
    }


# sms.ru's own (Russian) status texts.
BAD_API_ID_TEXT = "Неправильный api_id"
NUMBER_REFUSED_TEXT = "На этот номер нельзя отправлять сообщения"  # noqa: RUF001

ERROR_ANSWER: dict[str, Any] = {"status": "ERROR", "status_code": 200, "status_text": BAD_API_ID_TEXT}


def number_error_answer(to: str) -> dict[str, Any]:
    return {
        "status": "OK",
        "status_code": 100,
        "sms": {
            to: {
                "status": "ERROR",
                "status_code": 207,
                "status_text": NUMBER_REFUSED_TEXT,
            }
        },
        "balance": 4122.56,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSmsRu

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) makes the late answer fail with a broken pipe: expected, not news.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(self.rfile.read(length) if length else b"")

    def _handle(self, body: bytes) -> None:
        fake = self.server.fake
        params: dict[str, str] = {}
        for source in (urlsplit(self.path).query, body.decode("utf-8", "replace")):
            for key, values in parse_qs(source, keep_blank_values=True).items():
                params[key] = values[-1]
        with fake.lock:
            fake.requests.append(params)
            mode, delay = fake.mode, fake.delay
        to = params.get("to", "")

        if mode == "slow":
            fake.stopping.wait(delay)
        if mode in {"ok", "slow"}:
            self._reply(200, json.dumps(ok_answer(to)).encode())
        elif mode == "error":
            self._reply(200, json.dumps(ERROR_ANSWER).encode())
        elif mode == "number_error":
            self._reply(200, json.dumps(number_error_answer(to)).encode())
        elif mode == "garbage":
            self._reply(200, b"<html>oops</html>", "text/html")
        elif mode == "http500":
            self._reply(500, b"Internal Server Error", "text/plain")
        elif mode == "custom":
            self._reply(fake.custom_status, fake.custom_body.encode())
        else:
            self._reply(400, f"unknown fake mode {mode!r}".encode(), "text/plain")

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeSmsRu:
    """sms.ru on 127.0.0.1:<free port>; ``url`` is the ``/sms/send`` endpoint to put in SMSRU_URL."""

    def __init__(self, mode: str = "ok", delay: float = 1.5) -> None:
        self.mode = mode
        self.delay = delay
        self.custom_status = 200
        self.custom_body = "{}"
        self.requests: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake sms.ru server is not running"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms/send"

    def start(self) -> FakeSmsRu:
        self.stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-smsru", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes a "slow" handler at once
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSmsRu:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
