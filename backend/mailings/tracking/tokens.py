"""The tokens of the open pixel and the click redirects (R-ENG-2).

A token names a delivery (and, for a click, a tracked link) and carries a MAC over both ids and the kind,
so the endpoints trust it without reading the database: a link id of one mailing paired with a delivery of
another was never signed and fails, as does any edited or truncated token. Ids are hexadecimal; the MAC is
keyed BLAKE2s (a MAC by design, as strong as HMAC here and a third of its cost) of 128 bits, URL-safe
base64, its key derived from SECRET_KEY.

Signing is per recipient on the sending path: `Signer` derives the key once, and each token costs about a
microsecond.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings

SALT = "mailer.tracking"
_MAC_BYTES = 16
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Verified:
    delivery_id: int
    link_id: int | None


class Signer:
    """Signs and checks tokens with a key derived once from SECRET_KEY."""

    def __init__(self) -> None:
        self._key = hashlib.sha256((SALT + settings.SECRET_KEY).encode()).digest()

    def _signature(self, message: str) -> str:
        mac = hashlib.blake2s(message.encode(), key=self._key, digest_size=_MAC_BYTES).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def open_token(self, delivery_id: int) -> str:
        ids = f"{delivery_id:x}"
        return f"{ids}-{self._signature('o:' + ids)}"

    def click_token(self, delivery_id: int, link_id: int) -> str:
        ids = f"{delivery_id:x}-{link_id:x}"
        return f"{ids}-{self._signature('c:' + ids)}"

    def click_tokens(self, delivery_id: int, links: list[str]) -> list[str]:
        """`click_token` of one delivery for each of `links` (link ids already in hex)."""
        delivery = f"{delivery_id:x}-"
        sign = self._signature
        return [f"{delivery}{link}-{sign('c:' + delivery + link)}" for link in links]

    # The MAC's alphabet has "-" too: the ids are split off from the left.
    def verify_open(self, token: str) -> Verified | None:
        parts = token.split("-", 1)
        if len(parts) != 2:
            return None
        delivery = _id(parts[0])
        # Compared as bytes: compare_digest refuses str with non-ASCII characters (a forged token's).
        expected = self._signature("o:" + parts[0]).encode()
        if delivery is None or not hmac.compare_digest(parts[1].encode(), expected):
            return None
        return Verified(delivery, None)

    def verify_click(self, token: str) -> Verified | None:
        parts = token.split("-", 2)
        if len(parts) != 3:
            return None
        delivery, link = _id(parts[0]), _id(parts[1])
        if delivery is None or link is None:
            return None
        expected = self._signature(f"c:{parts[0]}-{parts[1]}").encode()
        if not hmac.compare_digest(parts[2].encode(), expected):
            return None
        return Verified(delivery, link)


def _id(text: str) -> int | None:
    """A positive id written as the signer writes it (lower-case hex, no leading zero), else None: one id
    has one spelling, so a signed token cannot be re-spelled into another accepted one."""
    if not text or len(text) > 16 or text[0] == "0" or text.strip("0123456789abcdef"):
        return None
    value = int(text, 16)
    return value if value <= _MAX_ID else None


_signer: tuple[str, Signer] | None = None


def signer() -> Signer:
    """The process's signer, remade when SECRET_KEY changes (tests override it)."""
    global _signer
    if _signer is None or _signer[0] != settings.SECRET_KEY:
        _signer = (settings.SECRET_KEY, Signer())
    return _signer[1]
