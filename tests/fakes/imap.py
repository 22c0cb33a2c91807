"""A small real IMAP4rev1 server on loopback, enough for imaplib and imap-tools: LOGIN, SELECT, UID SEARCH
(ALL, UNSEEN), UID FETCH (BODY[] / BODY.PEEK[], UID, FLAGS, RFC822.SIZE), UID STORE ±FLAGS, EXPUNGE,
UID MOVE, UID COPY, LOGOUT. Plain TCP (no TLS). Its folders are plain lists a test reads and fills:
`server.add("INBOX", raw)`, `server.folders["INBOX"]`. It can refuse logins (`password`) and count
commands (`commands`), so a test sees exactly what a reader did to the mailbox."""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field

from tests.fakes.smtp import free_port


@dataclass
class StoredMail:
    uid: int
    data: bytes
    flags: set[str] = field(default_factory=set)


_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\S+)')


def _args(text: bytes) -> list[str]:
    return [(quoted or bare).decode("utf-8", "replace") for quoted, bare in _TOKEN.findall(text)]


def _uid_set(spec: str, uids: list[int]) -> set[int]:
    chosen: set[int] = set()
    top = max(uids, default=0)
    for piece in spec.split(","):
        if ":" in piece:
            low, high = piece.split(":")
            low_n = top if low == "*" else int(low)
            high_n = top if high == "*" else int(high)
            chosen.update(range(min(low_n, high_n), max(low_n, high_n) + 1))
        elif piece:
            chosen.add(top if piece == "*" else int(piece))
    return chosen


class _Session(socketserver.StreamRequestHandler):
    server: _TCPServer

    def send(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def handle(self) -> None:
        fake = self.server.fake
        self.selected: str | None = None
        self.send(b"* OK [CAPABILITY IMAP4rev1 MOVE UIDPLUS] fake IMAP ready")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            command, _, args = rest.partition(b" ")
            name = command.decode("ascii", "replace").upper()
            with fake.lock:
                fake.commands.append(rest.decode("utf-8", "replace"))
            if name == "UID":
                sub, _, args = args.partition(b" ")
                name = "UID " + sub.decode("ascii", "replace").upper()
            try:
                done = self.dispatch(name, args)
            except Exception as exc:  # a fake answers BAD instead of dying
                self.send(tag + b" BAD " + str(exc).encode())
                continue
            if done is None:
                self.send(tag + b" BAD unknown command")
            else:
                self.send(tag + b" " + done)
            if name == "LOGOUT":
                return

    def dispatch(self, name: str, args: bytes) -> bytes | None:
        fake = self.server.fake
        if name == "CAPABILITY":
            self.send(b"* CAPABILITY IMAP4rev1 MOVE UIDPLUS")
            return b"OK CAPABILITY completed"
        if name == "NOOP":
            return b"OK NOOP completed"
        if name == "LOGOUT":
            self.send(b"* BYE logging out")
            return b"OK LOGOUT completed"
        if name == "LOGIN":
            user, password = _args(args)[:2]
            if (user, password) != (fake.user, fake.password):
                return b"NO [AUTHENTICATIONFAILED] Invalid credentials"
            return b"OK LOGIN completed"
        if name in ("SELECT", "EXAMINE"):
            folder = _args(args)[0]
            with fake.lock:
                if folder not in fake.folders:
                    return b"NO no such folder"
                self.selected = folder
                count = len(fake.folders[folder])
            self.send(b"* %d EXISTS" % count)
            self.send(b"* 0 RECENT")
            self.send(b"* OK [UIDVALIDITY 1] UIDs valid")
            self.send(rb"* FLAGS (\Seen \Deleted)")
            return b"OK [READ-WRITE] SELECT completed"
        if self.selected is None:
            return None
        with fake.lock:
            mails = fake.folders[self.selected]
            if name == "UID SEARCH":
                words = [word.upper() for word in _args(args)]
                unseen = "UNSEEN" in words
                found = [m.uid for m in mails if not (unseen and "\\Seen" in m.flags)]
                self.send(b"* SEARCH" + b"".join(b" %d" % uid for uid in found))
                return b"OK SEARCH completed"
            if name == "UID FETCH":
                spec, _, items = args.partition(b" ")
                wanted = _uid_set(spec.decode(), [m.uid for m in mails])
                peek = b"BODY.PEEK[]" in items.upper()
                for number, mail in enumerate(mails, 1):
                    if mail.uid not in wanted:
                        continue
                    if not peek:
                        mail.flags.add("\\Seen")
                    flags = " ".join(sorted(mail.flags)).encode()
                    head = b"* %d FETCH (UID %d FLAGS (%s) RFC822.SIZE %d BODY[] {%d}" % (
                        number,
                        mail.uid,
                        flags,
                        len(mail.data),
                        len(mail.data),
                    )
                    self.wfile.write(head + b"\r\n" + mail.data + b")\r\n")
                return b"OK FETCH completed"
            if name == "UID STORE":
                spec, mode, flag_list = _args(args)[:3]
                flags = set(flag_list.strip("()").split())
                for number, mail in enumerate(mails, 1):
                    if mail.uid in _uid_set(spec, [m.uid for m in mails]):
                        if mode.upper().startswith("+"):
                            mail.flags |= flags
                        elif mode.upper().startswith("-"):
                            mail.flags -= flags
                        else:
                            mail.flags = flags
                        self.send(
                            b"* %d FETCH (UID %d FLAGS (%s))"
                            % (number, mail.uid, " ".join(mail.flags).encode())
                        )
                return b"OK STORE completed"
            if name == "EXPUNGE":
                for number in range(len(mails), 0, -1):
                    if "\\Deleted" in mails[number - 1].flags:
                        fake.deleted.append(mails.pop(number - 1))
                        self.send(b"* %d EXPUNGE" % number)
                return b"OK EXPUNGE completed"
            if name in ("UID MOVE", "UID COPY"):
                spec, folder = _args(args)[:2]
                target = fake.folders.setdefault(folder, [])
                chosen = _uid_set(spec, [m.uid for m in mails])
                for mail in [m for m in mails if m.uid in chosen]:
                    target.append(StoredMail(fake.next_uid(), mail.data, set(mail.flags)))
                    if name == "UID MOVE":
                        mails.remove(mail)
                return b"OK done"
        return None


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, fake: FakeIMAPServer):
        self.fake = fake
        super().__init__(address, _Session)


class FakeIMAPServer:
    def __init__(self, *, user: str = "bounces", password: str = "secret"):  # noqa: S107 - a fake on loopback
        self.user, self.password = user, password
        self.host, self.port = "127.0.0.1", free_port()
        self.folders: dict[str, list[StoredMail]] = {"INBOX": []}
        self.deleted: list[StoredMail] = []
        self.commands: list[str] = []
        self.lock = threading.Lock()
        self._uid = 0
        self._server = _TCPServer((self.host, self.port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def next_uid(self) -> int:
        self._uid += 1
        return self._uid

    def add(self, folder: str, data: bytes, flags: set[str] | None = None) -> int:
        with self.lock:
            uid = self.next_uid()
            self.folders.setdefault(folder, []).append(StoredMail(uid, data, set(flags or ())))
            return uid

    def start(self) -> FakeIMAPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeIMAPServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
