"""The recipient's unsubscribe link (R-SEND-9): a domain concept, made here and checked here.

Every message carries a link signed with the client's token; the unsubscribe page checks it. The compose
step and the page both call this module, so no page depends on the sending engine.
"""

import base64
import hashlib
import hmac
import secrets

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "mailer.unsubscribe"
# A test send's links carry a token of their own (`test_send_token`): no client has it (a client's token is
# URL-safe base64, which has no "."), and the page says it is a test link instead of "does not work".
TEST_TOKEN_PREFIX = "test."  # noqa: S105 - a marker, not a secret


def test_send_token() -> str:
    """The token of a test send's unsubscribe and preferences links: signed like a client's, nobody's."""
    return TEST_TOKEN_PREFIX + secrets.token_urlsafe(16)


def is_test_send_token(token: str) -> bool:
    return token.startswith(TEST_TOKEN_PREFIX)


def unsubscribe_url(token: str) -> str:
    """The absolute link for the client whose `unsubscribe_token` is `token`."""
    signed = signing.Signer(salt=SALT).sign(token)
    return settings.SITE_URL + reverse("web:unsubscribe", args=[signed])


class UnsubscribeLinks:
    """`unsubscribe_url` for many tokens (the sending engine: every recipient of an occurrence), with the
    page's address resolved and the signing key derived once instead of per link. `link(token)` is
    `unsubscribe_url(token)` for every token the model makes (URL-safe ones; a test holds them equal)."""

    _MARKER = "UNSUBSCRIBE-TOKEN-MARKER"

    def __init__(self) -> None:
        url = settings.SITE_URL + reverse("web:unsubscribe", args=[self._MARKER])
        self._before, self._after = url.split(self._MARKER)
        preferences = settings.SITE_URL + reverse("web:preferences", args=[self._MARKER])
        self._preferences_before, self._preferences_after = preferences.split(self._MARKER)
        signer = signing.Signer(salt=SALT)
        self._separator = signer.sep
        # What `Signer.sign` computes per call (django.utils.crypto.salted_hmac): the key, then an HMAC.
        key = hashlib.sha256((signer.salt + "signer" + settings.SECRET_KEY).encode()).digest()
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def _signed(self, token: str) -> str:
        mac = self._mac.copy()
        mac.update(token.encode())
        signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
        return f"{token}{self._separator}{signature}"

    def link(self, token: str) -> str:
        return f"{self._before}{self._signed(token)}{self._after}"

    def links(self, token: str) -> tuple[str, str]:
        """The unsubscribe link and the preferences link (R-ENG-3): one signature serves both pages."""
        signed = self._signed(token)
        return (
            f"{self._before}{signed}{self._after}",
            f"{self._preferences_before}{signed}{self._preferences_after}",
        )


def preferences_url(token: str) -> str:
    """The absolute link to the client's preferences page (R-ENG-3), signed like the unsubscribe link."""
    signed = signing.Signer(salt=SALT).sign(token)
    return settings.SITE_URL + reverse("web:preferences", args=[signed])


def unsubscribe_token_from(signed: str) -> str:
    """The client's token from a signed link; raises `signing.BadSignature` for a forged or broken one."""
    return signing.Signer(salt=SALT).unsign(signed)
