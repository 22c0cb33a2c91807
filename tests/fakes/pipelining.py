"""A minimal SMTP server on loopback that offers PIPELINING (RFC 2920) and records every read it makes.

aiosmtpd reads commands one line at a time from a stream and does not say how they arrived; this server
keeps each chunk the socket gave it (`chunks`), so a test can see that MAIL FROM, RCPT TO and DATA came in
one write, and it answers all the commands of a chunk in one write, as a pipelining server does. What it
answers is switchable: recipients refused (550) or deferred (451), MAIL or DATA answered with a given
reply, and `data_despite_no_recipient` for a broken server that answers 354 to DATA after refusing every
recipient (RFC 2920 §3.1: the client must then end the empty message with a dot).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

from tests.fakes.smtp import Received, free_port


@dataclass
class Replies:
    pipelining: bool = True  # offered in the EHLO answer
    mail: str = ""  # e.g. "553 5.7.1 not allowed" or "421 4.3.2 closing"; empty: 250
    reject: set[str] = field(default_factory=set)  # recipients answered 550
    defer: set[str] = field(default_factory=set)  # recipients answered 451
    data: str = ""  # DATA's reply instead of 354 when there are recipients
    end: str = ""  # the reply after the message's final dot instead of 250
    data_despite_no_recipient: bool = False


class _Session(asyncio.Protocol):
    def __init__(self, server: PipeliningSMTPServer):
        self.server = server
        self.buffer = b""
        self.in_data = False
        self.lines: list[bytes] = []
        self.mail_from: str | None = None
        self.rcpts: list[str] = []
        self.closing = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        with self.server.lock:
            self.server.sessions += 1
        transport.write(b"220 pipelining.test ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        with self.server.lock:
            self.server.chunks.append(data)
        self.buffer += data
        out: list[str] = []
        while not self.closing and b"\r\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            if self.in_data:
                self._data_line(line, out)
            else:
                self._command(line.decode("ascii", "replace"), out)
        if out:
            self.transport.write("".join(f"{reply}\r\n" for reply in out).encode())
        if self.closing:
            self.transport.close()

    def _command(self, line: str, out: list[str]) -> None:
        replies = self.server.replies
        verb = line[:4].upper()
        with self.server.lock:
            self.server.commands.append(line)
        if verb in ("EHLO", "HELO"):
            if verb == "EHLO" and replies.pipelining:
                out.append("250-pipelining.test\r\n250-PIPELINING\r\n250 8BITMIME")
            else:
                out.append("250 pipelining.test")
        elif verb == "MAIL":
            if replies.mail:
                out.append(replies.mail)
                self.closing = replies.mail.startswith("421")
            else:
                self.mail_from = line.split(":", 1)[1].strip().strip("<>")
                self.rcpts = []
                out.append("250 2.1.0 Ok")
        elif verb == "RCPT":
            address = line.split(":", 1)[1].strip().strip("<>")
            if self.mail_from is None:
                out.append("503 5.5.1 Error: need MAIL command")
            elif address in replies.reject:
                out.append(f"550 5.1.1 <{address}>: Recipient address rejected: User unknown")
            elif address in replies.defer:
                out.append("451 4.7.1 Greylisted, try again later")
            else:
                self.rcpts.append(address)
                out.append("250 2.1.5 Ok")
        elif verb == "DATA":
            if self.mail_from is None:
                out.append("503 5.5.1 Error: need MAIL command")
            elif not self.rcpts and not replies.data_despite_no_recipient:
                out.append("554 5.5.1 Error: no valid recipients")
            elif self.rcpts and replies.data:
                out.append(replies.data)
            else:
                self.in_data = True
                self.lines = []
                out.append("354 End data with <CR><LF>.<CR><LF>")
        elif verb == "RSET":
            self.mail_from, self.rcpts = None, []
            out.append("250 2.0.0 Ok")
        elif verb == "NOOP":
            out.append("250 2.0.0 Ok")
        elif verb == "QUIT":
            out.append("221 2.0.0 Bye")
            self.closing = True
        else:
            out.append("502 5.5.2 Error: command not recognized")

    def _data_line(self, line: bytes, out: list[str]) -> None:
        if line != b".":
            self.lines.append(line[1:] if line.startswith(b"..") else line)
            return
        self.in_data = False
        if self.rcpts:
            with self.server.lock:
                self.server.received.append(
                    Received(self.mail_from or "", list(self.rcpts), b"\r\n".join(self.lines) + b"\r\n")
                )
        out.append(self.server.replies.end or "250 2.0.0 Ok: queued")
        self.mail_from, self.rcpts = None, []


class PipeliningSMTPServer:
    def __init__(self, **replies):
        self.replies = Replies(**replies)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.lock = threading.Lock()
        self.chunks: list[bytes] = []
        self.commands: list[str] = []
        self.received: list[Received] = []
        self.sessions = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server = None

    def start(self) -> PipeliningSMTPServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            self._loop.create_server(lambda: _Session(self), self.host, self.port), self._loop
        )
        self._server = future.result(timeout=5)
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> PipeliningSMTPServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def set(self, **changes) -> None:
        for key, value in changes.items():
            setattr(self.replies, key, value)
