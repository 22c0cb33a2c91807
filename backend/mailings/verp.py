"""The per-delivery return path (VERP, R-DLV-3): `bounces+<token>@<BOUNCE_DOMAIN>`.

A bounce or a complaint comes back to the envelope sender (MAIL FROM) of the message it is about, so each
delivery goes out with its own: the token names the delivery and carries an HMAC of it under SECRET_KEY, so
the bounce reader matches a mail to its delivery only by the address it was sent to, and nobody can make
it mark someone else's client bounced by writing to a made-up address. Lower-case hexadecimal throughout:
some servers change the case of a local part.

With BOUNCE_DOMAIN unset nothing is read back and the envelope sender is the operator's address.
"""

from __future__ import annotations

import hmac
import re

from django.conf import settings
from django.utils.crypto import salted_hmac

_SALT = "backend.mailings.verp"
_TAG_HEX = 16  # 64 bits of the HMAC: a forged token has one chance in 2**64
_TOKEN = re.compile(r"^([0-9a-f]{1,16})-([0-9a-f]{" + str(_TAG_HEX) + r"})$")


def _tag(delivery_id: int) -> str:
    return salted_hmac(_SALT, str(delivery_id)).hexdigest()[:_TAG_HEX]


def token(delivery_id: int) -> str:
    return f"{delivery_id:x}-{_tag(delivery_id)}"


def return_path(delivery_id: int) -> str | None:
    """The envelope sender for `delivery_id`; None when BOUNCE_DOMAIN is unset."""
    domain = settings.BOUNCE_DOMAIN
    if not domain:
        return None
    return f"{settings.BOUNCE_LOCAL_PART}+{token(delivery_id)}@{domain}"


def delivery_id_from(address: str) -> int | None:
    """The delivery a return-path address names, or None when it is not one of ours (another local part or
    domain, a token that does not verify). Case-insensitive; angle brackets and spaces are ignored."""
    address = address.strip().strip("<>").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not settings.BOUNCE_DOMAIN or domain != settings.BOUNCE_DOMAIN.lower():
        return None
    prefix, plus, value = local.partition("+")
    if not plus or prefix != settings.BOUNCE_LOCAL_PART.lower():
        return None
    match = _TOKEN.match(value)
    if not match:
        return None
    delivery_id = int(match.group(1), 16)
    if not hmac.compare_digest(match.group(2), _tag(delivery_id)):
        return None
    return delivery_id
