"""Shared pieces of the sign-up form tests (R-ENG-1): a ready form, the link read from a mail, a token
signed in the past."""

import re
import time

from django.core import signing
from django.urls import reverse

from backend.mailings.models import SignupForm
from backend.mailings.services import signups
from tests.factories import TagFactory, UserFactory

LINK = re.compile(r"https?://\S+?(/subscribe/[^/\s]+/confirm/[^/\s]+/)")
VISITOR = "203.0.113.5"


def make_form(owner=None, *, tags=(), **fields) -> SignupForm:
    owner = owner or UserFactory()
    fields.setdefault("name", "Newsletter")
    fields.setdefault("title", "Get our news")
    fields.setdefault("consent_text", "I agree to receive the monthly newsletter.")
    fields.setdefault("thank_you_text", "Welcome aboard!")
    form = SignupForm.objects.create(owner=owner, **fields)
    form.tags.set(tags)
    return form


def tagged_form(owner=None):
    owner = owner or UserFactory()
    news, offers = TagFactory(owner=owner, name="news"), TagFactory(owner=owner, name="offers")
    return make_form(owner, tags=[news, offers]), news, offers


def subscribe_url(form: SignupForm) -> str:
    return reverse("web:subscribe", args=[form.public_id])


def post_signup(client, form: SignupForm, email: str, *, ip: str = VISITOR, **extra):
    data = {"email": email, "full_name": extra.pop("full_name", "Ann Reader"), **extra.pop("data", {})}
    return client.post(subscribe_url(form), data, REMOTE_ADDR=ip, **extra)


def confirm_path(message) -> str:
    """The site-relative path of the confirmation link in a sent mail."""
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def past_token(payload: list, *, days_ago: float) -> str:
    """A confirmation token as `signups.confirmation_token` makes it, signed `days_ago` days ago."""

    class PastSigner(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time() - days_ago * 86400))

    return PastSigner(salt=signups.SALT).sign_object(payload, compress=True)
