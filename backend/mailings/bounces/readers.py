"""Where bounces come from (`manage.py runbounces`): an inbound SMTP endpoint for BOUNCE_DOMAIN, and an IMAP
mailbox polled every BOUNCE_IMAP_POLL_SECONDS. Both hand each mail to `record` and let go of it only once it
is stored: the SMTP endpoint answers 451 otherwise (the sending server keeps it and tries again), the IMAP
reader leaves it unseen in its folder for the next poll. Nothing is deleted that was not stored, and nothing
at all unless BOUNCE_IMAP_DELETE says so.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from imap_tools import MailBox, MailBoxUnencrypted, MailMessage, MailMessageFlags

from .. import verp
from ..models import Bounce
from .process import record

logger = logging.getLogger(__name__)

STORED = "250 2.0.0 Stored"
NOT_STORED = "451 4.3.0 Could not store the message now; try again later"
NOT_HERE = "550 5.1.1 Not a bounce address of this server"
TOO_MANY = "421 4.7.0 Too many connections; try again later"


def stored(raw: bytes, *, source: str, envelope_to=None) -> Bounce:
    """`record` from a thread of a reader: its own database connection, fresh for each mail (one dropped
    while the reader waited is replaced, not reused)."""
    close_old_connections()
    try:
        return record(raw, source=source, envelope_to=envelope_to)
    finally:
        close_old_connections()


# --- inbound SMTP -------------------------------------------------------------------------------------


class BounceHandler:
    """aiosmtpd handler: RCPT only for our addresses at BOUNCE_DOMAIN — a VERP address whose token verifies,
    or exactly BOUNCE_LOCAL_PART@BOUNCE_DOMAIN (where a provider's feedback loop is registered) — 550 for
    any other; DATA stored before it is answered."""

    def __init__(self, domain: str):
        self.domain = domain.lower()
        # The database is blocking: stored from these threads, never from the event loop's.
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bounces")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local, at, domain = address.strip().strip("<>").strip().lower().rpartition("@")
        if not at or not self.domain or domain.rstrip(".") != self.domain:
            return NOT_HERE
        plain = local == settings.BOUNCE_LOCAL_PART.lower()
        if not plain and verp.delivery_id_from(f"{local}@{self.domain}") is None:
            return NOT_HERE
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.executor, self.store, raw, list(envelope.rcpt_tos))
        except Exception:
            logger.exception("bounces: a mail received over SMTP could not be stored; answered 451")
            return NOT_STORED
        return STORED

    @staticmethod
    def store(raw: bytes, recipients: list[str]) -> None:
        try:
            stored(raw, source=Bounce.Source.SMTP, envelope_to=recipients)
        finally:
            # Bounces come one by one, minutes apart: no connection is kept open in the pool's threads.
            connection.close()


class _Sessions:
    """How many SMTP sessions are open, of at most `limit` (one event loop: no lock needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0


class LimitedSMTP(SMTP):
    """aiosmtpd's server, answering 421 and hanging up when BOUNCE_SMTP_MAX_SESSIONS are open already."""

    def __init__(self, handler, *, sessions: _Sessions, **kwargs) -> None:
        super().__init__(handler, **kwargs)
        self._sessions = sessions
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None and not self._counted:  # a new connection (not STARTTLS's second call)
            if self._sessions.open >= self._sessions.limit:
                transport.write(f"{TOO_MANY}\r\n".encode())  # type: ignore[attr-defined]
                transport.close()
                return
            self._sessions.open += 1
            self._counted = True
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if not self._counted:
            return  # refused above: no session was started
        self._sessions.open -= 1
        self._counted = False
        super().connection_lost(error)


class LimitedController(Controller):
    def __init__(self, handler, *, max_sessions: int, **kwargs) -> None:
        self.sessions = _Sessions(max_sessions)
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        return LimitedSMTP(self.handler, sessions=self.sessions, **self.SMTP_kwargs)


def smtp_endpoint(host: str, port: int) -> Controller:
    """The endpoint, not started: `.start()`, `.stop()`."""
    handler = BounceHandler(settings.BOUNCE_DOMAIN)
    return LimitedController(
        handler,
        max_sessions=settings.BOUNCE_SMTP_MAX_SESSIONS,
        hostname=host,
        port=port,
        ready_timeout=10,
        data_size_limit=settings.BOUNCE_SMTP_MAX_BYTES,
        decode_data=False,
    )


def parse_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:2525" → ("127.0.0.1", 2525); "[::1]:2525" → ("::1", 2525). ValueError when malformed."""
    host, colon, port = value.strip().rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not HOST:PORT: {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


# --- IMAP ---------------------------------------------------------------------------------------------


class RawMailMessage(MailMessage):
    """imap-tools' message with the bytes as the server sent them (what `record` hashes and keeps)."""

    def __init__(self, fetch_data: list) -> None:
        super().__init__(fetch_data)
        self.raw = self._get_message_data_parts(fetch_data)[0]


def poll_imap(stop: threading.Event | None = None) -> tuple[int, int]:
    """One pass over the mailbox: every mail not done yet is stored, then marked seen (or moved to
    BOUNCE_IMAP_DONE_FOLDER, or deleted with BOUNCE_IMAP_DELETE — never one whose stored copy was cut: that
    one is moved or marked seen, the mailbox keeps it whole). Returns (stored, left for the next poll).
    A mail that could not be stored stays as it was; the database down ends the pass."""
    box_class = MailBox if settings.BOUNCE_IMAP_SSL else MailBoxUnencrypted
    done_folder = settings.BOUNCE_IMAP_DONE_FOLDER
    delete = settings.BOUNCE_IMAP_DELETE
    # Marking seen is how a pass knows what is done; moving or deleting takes the mail out of the folder.
    criteria = "ALL" if (delete or done_folder) else "UNSEEN"
    count, left = 0, 0
    box = box_class(settings.BOUNCE_IMAP_HOST, settings.BOUNCE_IMAP_PORT, timeout=60)
    box.email_message_class = RawMailMessage
    with box.login(
        settings.BOUNCE_IMAP_USER, settings.BOUNCE_IMAP_PASSWORD, initial_folder=settings.BOUNCE_IMAP_FOLDER
    ) as mailbox:
        uids = mailbox.uids(criteria)
        if not uids:
            return 0, 0
        for position, message in enumerate(mailbox.fetch(uid_list=uids, mark_seen=False)):
            if stop is not None and stop.is_set():
                left += len(uids) - position
                break
            try:
                bounce = stored(message.raw, source=Bounce.Source.IMAP)
            except DatabaseError:
                logger.exception("bounces: the database is unavailable; the mailbox is read again later")
                left += len(uids) - position
                break
            except Exception:
                logger.exception(
                    "bounces: IMAP mail %s could not be stored; left for the next poll", message.uid
                )
                left += 1
                continue
            count += 1
            if delete and not bounce.raw_truncated:
                mailbox.delete([message.uid])
            elif done_folder:
                mailbox.move([message.uid], done_folder)
            else:
                mailbox.flag([message.uid], MailMessageFlags.SEEN, True)
    return count, left
