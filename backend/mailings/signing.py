"""DKIM signatures on every message (R-DLV-2): the operator's key from settings and each owner domain's key.

Verified by dkimpy (the tests check every kind of message with its verifier), signed here: the message is
compose's own (CRLF only, one known header layout), so its headers and body are canonicalised directly
(relaxed/simple) instead of through dkimpy's general parser, which cost three times the Ed25519 signature
itself; the signature header is folded and canonicalised exactly as dkimpy does it. The private-key
operation is `cryptography`'s (OpenSSL): dkimpy's own RSA is pure Python, about 6 ms per RSA-2048
signature on the development machine against 0.25 ms here, which would make signing, not the mail server,
the sender's limit.

Work is done once where it can be: a key's PEM is parsed once (the operator's once per process, an owner
domain's once per prepared occurrence), and per message the body is canonicalised and hashed once for all
its signatures; only the header hash and the signature itself are per key.

A private key never reaches a log, a repr or an exception: `SigningKey` hides it, and every error about a
key names the key's source and what is wrong, never its content.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from dkim import RE_BTAG, fold
from dkim.canonicalization import CanonicalizationPolicy

# Signed when present, in this order; each is also listed once more than it occurs ("oversigned"), so nobody
# on the way can add a second From, Subject, Reply-To... without breaking the signature (RFC 6376 §8.15).
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Reply-To",
)
_SIGNED = tuple(name.lower().encode() for name in SIGNED_HEADERS)
# relaxed/simple: dkimpy's default and the common choice; headers survive refolding by relays, the body is
# ours, CRLF only, and is not rewritten on the way.
_CANON = CanonicalizationPolicy.from_c_value(b"relaxed/simple")
_MIN_RSA_BITS = 1024  # verifiers refuse less (RFC 8301); 2048 is what dkim_keygen makes


class DkimKeyError(ValueError):
    """A private key that cannot sign: the message says why, never what the key is."""


@dataclass(frozen=True)
class SigningKey:
    """A parsed private key with its d= domain and s= selector. The key object is not in the repr."""

    domain: str
    selector: str
    algorithm: str  # "rsa-sha256" or "ed25519-sha256"
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = field(repr=False, compare=False)

    def sign_digest(self, digest: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        return self.key.sign(digest)  # RFC 8463: Ed25519 over the SHA-256 of the header hash input


def load_private_key(pem: bytes, *, domain: str, selector: str, source: str) -> SigningKey:
    """Parse a PEM private key (RSA of at least 1024 bits, or Ed25519; PKCS#8 or PKCS#1, unencrypted).
    Raises DkimKeyError naming `source` and the problem, never the key."""
    domain = domain.strip().lower().rstrip(".")
    selector = selector.strip()
    if not domain or not selector:
        raise DkimKeyError(f"{source}: a DKIM key needs a domain and a selector")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise DkimKeyError(f"{source}: the private key is encrypted; give an unencrypted PEM") from None
    except (ValueError, UnsupportedAlgorithm):
        raise DkimKeyError(
            f"{source}: not a PEM private key that can be read (expected RSA or Ed25519, "
            "'-----BEGIN PRIVATE KEY-----' or '-----BEGIN RSA PRIVATE KEY-----')"
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_RSA_BITS:
            raise DkimKeyError(
                f"{source}: an RSA key of {key.key_size} bits; DKIM needs at least 1024 (use 2048)"
            )
        return SigningKey(domain, selector, "rsa-sha256", key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return SigningKey(domain, selector, "ed25519-sha256", key)
    kind = type(key).__name__.lstrip("_")
    raise DkimKeyError(f"{source}: a {kind} key; DKIM signs with RSA or Ed25519 only")


def public_record(key: SigningKey) -> str:
    """The TXT record to publish at `<selector>._domainkey.<domain>` for `key`."""
    public = key.key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"


def record_name(key: SigningKey) -> str:
    return f"{key.selector}._domainkey.{key.domain}"


def generate_pem(algorithm: str) -> bytes:
    """A new private key as unencrypted PKCS#8 PEM: "rsa" (2048 bits) or "ed25519"."""
    if algorithm == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}: rsa or ed25519")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@functools.cache
def operator_key() -> SigningKey | None:
    """The operator's key from DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE, read once per process
    (the app's start-up reads it, so a bad file stops the start); None when they are unset."""
    path = settings.DKIM_PRIVATE_KEY_FILE
    if not path:
        return None
    if not settings.DKIM_DOMAIN:
        raise ImproperlyConfigured("DKIM_PRIVATE_KEY_FILE is set but DKIM_DOMAIN is not: set both or none.")
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"DKIM_PRIVATE_KEY_FILE {path!r} cannot be read: {exc.strerror or type(exc).__name__} "
            "(to make a key, run `manage.py dkim_keygen` with DKIM_PRIVATE_KEY_FILE unset, then set it)"
        ) from None
    try:
        return load_private_key(
            pem, domain=settings.DKIM_DOMAIN, selector=settings.DKIM_SELECTOR, source="DKIM_PRIVATE_KEY_FILE"
        )
    except DkimKeyError as exc:
        raise ImproperlyConfigured(str(exc)) from None


class MessageSigner:
    """Signs messages with a fixed list of keys; the first key's signature ends up topmost."""

    def __init__(self, keys: list[SigningKey]):
        self.keys = keys
        self._fields = [
            (key, key.algorithm.encode(), key.domain.encode(), key.selector.encode()) for key in keys
        ]

    def __bool__(self) -> bool:
        return bool(self.keys)

    def sign(self, message: bytes) -> bytes:
        """`message` (CRLF line endings) with a DKIM-Signature header per key prepended."""
        if not self.keys:
            return message
        head, _blank, body = message.partition(b"\r\n\r\n")
        signed, include = _signed_headers(head)
        # simple body canonicalisation (RFC 6376 §3.4.3): the body with its trailing empty lines removed
        while body.endswith(b"\r\n\r\n"):
            body = body[:-2]
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        body_hash = base64.b64encode(hashlib.sha256(body).digest())
        now = str(int(time.time())).encode()
        h_value = b" : ".join(include)
        signatures = []
        for key, algorithm, domain, selector in self._fields:
            fields = [
                (b"v", b"1"),
                (b"a", algorithm),
                (b"c", b"relaxed/simple"),
                (b"d", domain),
                (b"i", b"@" + domain),
                (b"q", b"dns/txt"),
                (b"s", selector),
                (b"t", now),
                (b"h", h_value),
                (b"bh", body_hash),
                (b"b", b"0" * 60),  # a placeholder that makes b= fold onto its own line, as dkimpy does
            ]
            # As dkimpy signs: the header as it will be written, folded, with an empty b=, canonicalised.
            value = RE_BTAG.sub(b"\\1", fold(b"; ".join(b"=".join(f) for f in fields), namelen=_NAMELEN))
            own = _CANON.canonicalize_headers([(b"DKIM-Signature", b" " + value)])[0]
            hasher = hashlib.sha256(signed)
            hasher.update(own[0] + b":" + own[1].rstrip())
            fields[-1] = (b"b", base64.b64encode(key.sign_digest(hasher.digest())))
            value = fold(b"; ".join(b"=".join(f) for f in fields) + b"\r\n", namelen=_NAMELEN)
            signatures.append(b"DKIM-Signature: " + value)
        return b"".join(signatures) + message


_NAMELEN = len(b"DKIM-Signature")
_WSP = re.compile(rb"[\t ]+")


def _signed_headers(head: bytes) -> tuple[bytes, list[bytes]]:
    """The relaxed-canonical form (RFC 6376 §3.4.2) of the headers `_SIGNED` names, in h= order, and the h=
    list: each name once per occurrence (bottom-most first, as verifiers pick them) and once more."""
    found: dict[bytes, list[bytes]] = {}
    name = None
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the header before
            if name is not None:
                found[name][-1] += line
            continue
        raw_name, colon, value = line.partition(b":")
        lowered = raw_name.rstrip().lower()
        name = lowered if colon and lowered in _SIGNED else None
        if name is not None:
            found.setdefault(name, []).append(value)
    canonical = []
    include = []
    for name in _SIGNED:
        values = found.get(name, ())
        for value in reversed(values):
            canonical.append(name + b":" + _WSP.sub(b" ", value).strip() + b"\r\n")
        include.extend([name] * (len(values) + 1))
    return b"".join(canonical), include
