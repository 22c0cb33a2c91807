"""A real SMTP server on loopback whose behaviour a test can switch (R-SEND-5).

`FakeSMTPServer` runs aiosmtpd in a thread: it accepts, is slow, answers 421/451, rejects chosen
recipients with 550, drops the connection in the middle of DATA, or fails the first N messages; it records
every message it accepted. `GarbageServer` answers every line with something that is not SMTP.
`closed_port()` gives a port where nothing listens (connection refused).

Run as a script (`python -m tests.fakes.smtp --port 2525`) it is a counting sink for benchmarks: it
accepts everything and prints how many messages it received when it gets SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A loopback port with no listener: connecting is refused at once."""
    return free_port()


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data)


@dataclass
class Behaviour:
    mode: str = "accept"  # accept | slow | tempfail_421 | tempfail_451 | drop | reject_sender
    delay: float = 0.0  # seconds to stall in DATA when mode == "slow"
    reject: set[str] = field(default_factory=set)  # recipients answered 550
    fail_first: int = 0  # the first N messages get 451, then accept
    pipelining: bool = False  # offer PIPELINING in the EHLO answer (aiosmtpd reads pipelined commands fine)


class _Handler:
    def __init__(self, server: FakeSMTPServer):
        self.server = server

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # Every client (smtplib, Django's backend) greets first: a greeting counts one session.
        with self.server.lock:
            self.server.sessions += 1
        session.host_name = hostname
        if self.server.behaviour.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        with self.server.lock:
            self.server.sessions += 1
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.server.behaviour.mode == "tempfail_421":
            return "421 4.3.2 Service not available, closing channel"
        if self.server.behaviour.mode == "reject_sender":
            return f"553 5.7.1 <{address}>: Sender address rejected: not owned by user"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        behaviour = self.server.behaviour
        if address.lower() in behaviour.reject:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if behaviour.mode == "tempfail_451":
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        behaviour = self.server.behaviour
        with self.server.lock:
            self.server.data_commands += 1
            attempt = self.server.data_commands
        if behaviour.mode == "drop":
            server.transport.close()
            return "250 never seen"
        if behaviour.mode == "slow":
            await asyncio.sleep(behaviour.delay)
        if attempt <= behaviour.fail_first:
            return "451 4.3.0 Temporary local problem, try again"
        with self.server.lock:
            self.server.accepted += 1
            if self.server.keep:
                self.server.received.append(
                    Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
                )
        return f"250 2.0.0 Ok: queued as {attempt}"


class FakeSMTPServer:
    def __init__(self, *, keep: bool = True, **behaviour):
        self.behaviour = Behaviour(**behaviour)
        # keep=False (the benchmark sink) only counts: a list of every message ever received would grow the
        # sink's heap, and its garbage collections, with the length of the run.
        self.keep = keep
        self.accepted = 0
        self.sessions = 0  # clients that greeted the server (EHLO or HELO)
        self.received: list[Received] = []
        self.data_commands = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.host = "127.0.0.1"
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10)

    def start(self) -> FakeSMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._controller.stop()

    def __enter__(self) -> FakeSMTPServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def set(self, **changes) -> None:
        for key, value in changes.items():
            setattr(self.behaviour, key, value)

    def recipients(self) -> list[str]:
        with self.lock:
            return [rcpt for item in self.received for rcpt in item.rcpt_tos]


class GarbageServer:
    """Accepts TCP connections and answers with text that is not an SMTP reply."""

    def __init__(self):
        self.port = free_port()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.connections = 0

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn, contextlib.suppress(OSError):
                conn.sendall(b"HELLO THIS IS NOT SMTP\r\n")
                conn.settimeout(1)
                conn.recv(1024)
                conn.sendall(b"whatever you say\r\n")

    def __enter__(self) -> GarbageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=2)


def main() -> None:
    parser = argparse.ArgumentParser(description="A counting SMTP sink for benchmarks.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pipelining", action="store_true", help="offer PIPELINING (RFC 2920)")
    args = parser.parse_args()
    server = FakeSMTPServer(keep=False, pipelining=args.pipelining)
    server.port = args.port
    server._controller = Controller(_Handler(server), hostname="127.0.0.1", port=args.port, ready_timeout=10)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    server.start()
    print("ready", flush=True)
    while not stop.is_set():
        time.sleep(0.1)
    server.stop()
    print(f"received={server.accepted} cpu_s={time.process_time():.2f}", flush=True)


if __name__ == "__main__":
    main()
