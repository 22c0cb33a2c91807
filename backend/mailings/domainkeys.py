"""An owner's sender domain's DKIM keys and DNS record (R-DLV-2): the key pair Mailer generates, the TXT
record the owner publishes, and the look-up that checks it was published.

Pure steps with no database: the services (services/senders.py) store and record what these return. The
private key is only ever returned as PEM bytes to be stored; nothing here logs or formats it.

The look-up uses dnspython with the resolvers of DKIM_DNS_NAMESERVERS (and DKIM_DNS_PORT), or the system's
when that is empty, within DKIM_DNS_TIMEOUT seconds in all. Every DNS failure — a timeout, a name that does
not exist, no TXT record, a resolver answering garbage or refusing — comes back as a `Lookup` with a reason,
never as an exception: a "Check DNS" button must say what it found, not fail.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field

import dns.exception
import dns.resolver
import idna
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings

RSA = "rsa"
ED25519 = "ed25519"
RSA_BITS = 2048

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidDomain(ValueError):
    """Not a domain name mail can be sent from."""


def normalise_domain(value: str) -> str:
    """`value` as stored and looked up: lower-case ASCII (IDNA 2008, UTS 46), no trailing dot. Raises
    InvalidDomain for anything that is not a registrable host name with at least two labels."""
    value = value.strip().rstrip(".").lower()
    if not value or "@" in value or any(ch.isspace() for ch in value):
        raise InvalidDomain(value)
    try:
        value = idna.encode(value, uts46=True).decode("ascii")
    except (UnicodeError, idna.IDNAError) as exc:
        raise InvalidDomain(value) from exc
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidDomain(value)
    if labels[-1].isdigit():  # an IP address, not a domain
        raise InvalidDomain(value)
    return value


@dataclass(frozen=True)
class KeyPair:
    algorithm: str
    private_pem: bytes = field(repr=False)
    public: str  # the DNS record's p= value


def generate(algorithm: str = RSA) -> KeyPair:
    """A new key pair: RSA-2048 (p= is the base64 of the SubjectPublicKeyInfo, as RFC 6376 records carry
    it) or Ed25519 (p= is the base64 of the raw 32-byte key, RFC 8463). The private key as PKCS #8 PEM."""
    if algorithm == RSA:
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    elif algorithm == ED25519:
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raise ValueError(f"unknown DKIM key type {algorithm!r}")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(algorithm=algorithm, private_pem=pem, public=base64.b64encode(public).decode("ascii"))


def new_selector() -> str:
    """A selector no one can guess or collide with: `mailer` and 8 random hex digits."""
    return f"mailer{secrets.token_hex(4)}"


def record_name(domain: str, selector: str) -> str:
    return f"{selector}._domainkey.{domain}"


def record_value(algorithm: str, public: str) -> str:
    return f"v=DKIM1; k={algorithm}; p={public}"


def parse_tags(text: str) -> dict[str, str]:
    """A DKIM record's tag=value list (RFC 6376 3.6.1); whitespace inside a value is dropped (the base64
    of p= may be split by the publisher). A malformed part is skipped."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if sep and name and name not in tags:
            tags[name] = "".join(value.split())
    return tags


class Outcome:
    FOUND = "found"
    MISMATCH = "mismatch"
    MISSING = "missing"  # the name does not exist or has no TXT record: a definite answer
    FAILED = "failed"  # no answer to rely on (timeout, resolver failure, garbage)


@dataclass(frozen=True)
class Lookup:
    outcome: str
    detail: str  # what was found or what went wrong, for a person (not translated: a DNS detail)

    @property
    def matches(self) -> bool:
        return self.outcome == Outcome.FOUND


def _resolver() -> dns.resolver.Resolver:
    nameservers = list(settings.DKIM_DNS_NAMESERVERS)
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = nameservers
    resolver.port = settings.DKIM_DNS_PORT
    resolver.lifetime = settings.DKIM_DNS_TIMEOUT
    resolver.timeout = settings.DKIM_DNS_TIMEOUT
    return resolver


def _txt_records(name: str) -> list[str] | Lookup:
    try:
        answer = _resolver().resolve(name, "TXT", search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return Lookup(Outcome.MISSING, f"{name} does not exist (NXDOMAIN)")
    except dns.exception.Timeout:
        return Lookup(Outcome.FAILED, f"no answer within {settings.DKIM_DNS_TIMEOUT:g} s")
    except dns.resolver.NoNameservers as exc:
        return Lookup(Outcome.FAILED, f"no resolver gave a usable answer: {exc}"[:500])
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return Lookup(Outcome.FAILED, f"{type(exc).__name__}: {exc}"[:500])
    if answer.rrset is None:
        return Lookup(Outcome.MISSING, f"{name} has no TXT record")
    return [b"".join(rdata.strings).decode("ascii", "replace") for rdata in answer.rrset]


def check(domain: str, selector: str, algorithm: str, public: str) -> Lookup:
    """Is the record `record_value(algorithm, public)` published at `record_name(domain, selector)`?"""
    name = record_name(domain, selector)
    found = _txt_records(name)
    if isinstance(found, Lookup):
        return found
    dkim = [parse_tags(text) for text in found]
    dkim = [tags for tags in dkim if tags.get("v", "DKIM1") == "DKIM1" and "p" in tags]
    if not dkim:
        return Lookup(Outcome.MISSING, f"{name} has TXT records but none is a DKIM key")
    for tags in dkim:
        if tags["p"] == public and tags.get("k", RSA).lower() == algorithm:
            return Lookup(Outcome.FOUND, f"{name}: the published key matches")
    return Lookup(Outcome.MISMATCH, f"{name}: a DKIM record is published, with another key")
