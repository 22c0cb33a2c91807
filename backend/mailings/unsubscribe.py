"""The recipient's unsubscribe link (R-SEND-9): a domain concept, made here and checked here.

Every message carries a link signed with the client's token; the unsubscribe page checks it. The engine's
compose step and the page both call this module, so no page depends on the sending engine.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "mailer.unsubscribe"


def unsubscribe_url(token: str) -> str:
    """The absolute link for the client whose `unsubscribe_token` is `token`."""
    signed = signing.Signer(salt=SALT).sign(token)
    return settings.SITE_URL + reverse("web:unsubscribe", args=[signed])


def unsubscribe_token_from(signed: str) -> str:
    """The client's token from a signed link; raises `signing.BadSignature` for a forged or broken one."""
    return signing.Signer(salt=SALT).unsign(signed)
