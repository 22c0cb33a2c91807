"""A real DNS server on loopback (UDP) whose answers a test sets (R-DLV-2).

`FakeDNSServer` answers TXT queries from `records` (a name → list of TXT strings), NXDOMAIN for a name it
does not know, and can be told to stay silent (`mode="timeout"`), answer garbage (`mode="garbage"`) or
SERVFAIL (`mode="servfail"`). Built with dnspython's message API; point DKIM_DNS_NAMESERVERS and
DKIM_DNS_PORT at it.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class FakeDNSServer:
    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.mode = "answer"  # answer | timeout | garbage | servfail
        self.queries: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.host, self.port = self._sock.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> FakeDNSServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self._sock.close()

    def publish(self, name: str, *texts: str) -> None:
        self.records[name.rstrip(".").lower()] = list(texts)

    def _answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append(name)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if self.mode == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        if name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response.to_wire()
        if question.rdtype == dns.rdatatype.TXT and self.records[name]:
            # A TXT string holds at most 255 bytes: a long value is split, as publishers do.
            rdatas = []
            for text in self.records[name]:
                chunks = [text[i : i + 255] for i in range(0, len(text), 255)] or [""]
                rdatas.append(" ".join(f'"{chunk}"' for chunk in chunks))
            response.answer.append(
                dns.rrset.from_text(question.name, 300, dns.rdataclass.IN, dns.rdatatype.TXT, *rdatas)
            )
        return response.to_wire()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            if self.mode == "timeout":
                continue
            if self.mode == "garbage":
                self._sock.sendto(wire[:2] + b"\x81\x80not a dns message at all", peer)
                continue
            try:
                answer = self._answer(wire)
            except dns.exception.DNSException:
                answer = None  # a malformed query: no answer, as a server would drop it
            if answer is not None:
                self._sock.sendto(answer, peer)
