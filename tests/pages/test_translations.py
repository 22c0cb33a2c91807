"""The Russian interface for the hardening work (every count shown to people goes through
plural-aware translation; the catalogue is complete)."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from backend.accounts import services
from backend.accounts.models import PhoneVerification
from backend.accounts.services import _code_hash
from tests.factories import UserFactory
from tests.helpers import deliver_account_mail

pytestmark = pytest.mark.django_db
RU = {"accept-language": "ru"}
CATALOGUE = Path(django_settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.po"


@pytest.fixture(autouse=True)
def _english_afterwards():
    """A request in Russian leaves Russian active in this thread (LocaleMiddleware does not undo it), and
    tests that call services without a request would then read Russian."""
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


def ru_plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian form for a whole number n (the catalogue's Plural-Forms)."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def po_entries(text: str) -> list[dict]:
    """Each entry of a .po file: its flags, msgid and every msgstr (plural forms included), unquoted."""
    entries = []
    for block in text.split("\n\n"):
        entry: dict = {"flags": [], "fields": {}}
        current = None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry["flags"] += [flag.strip() for flag in line[2:].split(",")]
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                entry["fields"][current] += line[1:-1]
            else:
                current, _, value = line.partition(" ")
                entry["fields"][current] = value[1:-1]
        if "msgid" in entry["fields"]:
            entries.append(entry)
    return entries


def test_the_russian_catalogue_has_no_empty_fuzzy_or_obsolete_entries():
    """Every string in the catalogue is translated (all four plural forms) and none is a guess."""
    text = CATALOGUE.read_text(encoding="utf-8")
    entries = po_entries(text)
    assert len(entries) > 100
    header, *messages = entries
    assert header["fields"]["msgid"] == ""
    assert "nplurals=4" in header["fields"]["msgstr"]
    problems = []
    for entry in messages:
        fields = entry["fields"]
        strs = [value for name, value in fields.items() if name.startswith("msgstr")]
        expected = 4 if "msgid_plural" in fields else 1
        if "fuzzy" in entry["flags"] or len(strs) != expected or not all(strs):
            problems.append(fields["msgid"])
    assert problems == []
    assert "#, fuzzy" not in text
    assert "\n#~" not in text


def test_the_compiled_catalogue_is_the_current_one():
    """The .mo the server reads holds what the .po says (compilemessages was run)."""
    # msgids in variables, so that makemessages does not list this file as a source
    title, one, many = "Too many requests", "Wrong code; %(n)d try left.", "Wrong code; %(n)d tries left."
    with translation.override("ru"):
        assert translation.gettext(title) == "Слишком много запросов"
        assert translation.ngettext(one, many, 2) % {"n": 2} == "Неверный код; осталось 2 попытки."


def test_the_too_many_requests_page_is_in_russian(client, settings):
    """The 429 page of the account-email limits, in Russian, the minutes agreeing."""
    settings.ACCOUNT_EMAILS_PER_RECIPIENT = 1
    UserFactory(email="unconfirmed@example.com", email_verified=False)
    first = client.post(reverse("accounts:resend"), {"email": "unconfirmed@example.com"}, headers=RU)
    assert first.status_code == 302

    response = client.post(reverse("accounts:resend"), {"email": "unconfirmed@example.com"}, headers=RU)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Слишком много запросов" in page
    assert "Недавно для этого адреса или из вашей сети было запрошено слишком много писем" in page
    found = re.search(r"Попробуйте ещё раз через (\d+) (минуту|минуты|минут)\.", page)
    assert found, page
    minutes = int(found.group(1))
    assert found.group(2) == ru_plural(minutes, "минуту", "минуты", "минут")
    assert "Too many" not in page


@pytest.mark.parametrize(("minutes", "words"), [(1, "1 минуту"), (3, "3 минуты"), (15, "15 минут")])
def test_the_lockout_page_is_in_russian(client, settings, minutes, words):
    """The login lockout page, in Russian, its cool-off agreeing with the number."""
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=minutes)
    UserFactory(email="owner@example.com")
    data = {"username": "owner@example.com", "password": "guess"}
    statuses = [client.post(reverse("accounts:login"), data, headers=RU).status_code for _ in range(2)]
    assert statuses == [200, 429]

    page = client.post(reverse("accounts:login"), data, headers=RU).content.decode()

    assert "Слишком много неудачных попыток входа" in page
    assert f"приостановлен не более чем на {words}." in page
    assert "это также снимает приостановку входа" in page
    assert "paused" not in page


@pytest.mark.parametrize(("days", "english", "russian"), [(1, "1 day", "1 день"), (3, "3 days", "3 дня")])
def test_the_verification_email_says_its_days_in_the_right_form(client, settings, days, english, russian):
    """The sign-up email's "valid for N days" agrees with N (it said "1 days")."""
    settings.EMAIL_VERIFICATION_DAYS = days
    password = "plum-Orchard-47-lantern"
    for email, headers in (("en@example.com", {}), ("ru@example.com", RU)):
        client.post(
            reverse("accounts:signup"),
            {"email": email, "full_name": "", "password1": password},
            headers=headers,
        )
    english_body, russian_body = (message.body for message in deliver_account_mail())
    assert f"(valid for {english}, once)" in english_body
    assert f"(она действует {russian} и только один раз)" in russian_body
    assert "Здравствуйте!" in russian_body and "Если вы не регистрировались" in russian_body


@pytest.mark.parametrize(
    ("tries", "english", "russian"),
    [
        (2, "Wrong code; 1 try left.", "Неверный код; осталась 1 попытка."),
        (5, "Wrong code; 4 tries left.", "Неверный код; осталось 4 попытки."),
    ],
)
def test_the_tries_left_after_a_wrong_code_agree_with_their_number(tries, english, russian):
    """R-AUTH-8: the English said "1 tries left", the Russian "осталось попыток: 1"."""
    user = UserFactory()
    for language, expected in (("en", english), ("ru", russian)):
        PhoneVerification.objects.update_or_create(
            user=user,
            defaults={
                "phone": "+79161234567",
                "code_hash": _code_hash(user, "+79161234567", "123456"),
                "expires_at": timezone.now() + dt.timedelta(minutes=5),
                "tries_left": tries,
            },
        )
        with translation.override(language):
            with pytest.raises(ValidationError) as excinfo:
                services.phone_confirm(user=user, code="654321")
            assert excinfo.value.messages == [expected]
