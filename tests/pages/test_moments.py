"""One presentation of a moment on the owner pages (QA found six date formats across the pages): the
long date, a comma, the short time, in the user's time zone and language; seconds only in the attempt log.
The pages' scripts write the same with Intl (the browser test of the owner flow compares the two)."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from backend.mailings.sending import send_due
from backend.web.moments import moment_text
from tests.factories import MailingFactory, UserFactory
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
# What the pages used to show besides: "Nov. 28, 2026, 9 a.m.", "11/27/2026 9 a.m.", "2026-11-27 09:00".
OTHER_FORMATS = re.compile(r"\b[ap]\.m\.|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def test_a_moment_is_the_long_date_and_the_short_time_in_the_active_zone_and_language():
    moment = dt.datetime(2026, 11, 27, 6, 0, 16, tzinfo=dt.UTC)
    with timezone.override(MOSCOW):
        assert moment_text(moment) == "November 27, 2026, 9:00 AM"
        assert moment_text(moment, seconds=True) == "November 27, 2026, 9:00:16 AM"
        assert moment_text(moment + dt.timedelta(hours=7)) == "November 27, 2026, 4:00 PM"
        with translation.override("ru"):
            assert moment_text(moment) == "27 ноября 2026 г., 09:00"  # noqa: RUF001
            assert moment_text(moment, seconds=True) == "27 ноября 2026 г., 09:00:16"  # noqa: RUF001
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        assert moment_text(moment) == "November 27, 2026, 1:00 AM"
    assert moment_text(None) == ""


@pytest.fixture
def owner(client):
    user = UserFactory(time_zone="Europe/Moscow")
    client.force_login(user)
    return user


def test_every_owner_page_shows_moments_one_way_in_the_owners_zone(client, owner, smtp):
    mailing = due_mailing(owner=owner, clients=2, periodicity="daily")
    refused = mailing.clients.order_by("pk").first()
    smtp.set(reject={refused.email.lower()})
    send_due()
    mailing.refresh_from_db()
    occurrence = mailing.occurrences.get()
    attempt = refused.deliveries.get().attempt_log.get()
    with timezone.override(MOSCOW):
        scheduled = moment_text(occurrence.scheduled_for)
        expected = {
            reverse("web:dashboard"): [moment_text(mailing.next_run_at), moment_text(attempt.attempted_at)],
            reverse("mailings:list"): [moment_text(mailing.next_run_at), moment_text(mailing.created_at)],
            reverse("mailings:detail", args=[mailing.pk]): [
                scheduled,
                moment_text(mailing.start_at),
                moment_text(mailing.end_at),
                moment_text(mailing.created_at),
            ],
            reverse("mailings:report", args=[mailing.pk]): [
                scheduled,
                moment_text(occurrence.finished_at),
                moment_text(attempt.attempted_at, seconds=True),
                f'<option value="{occurrence.pk}">{scheduled}</option>',
            ],
            reverse("reports"): [scheduled, moment_text(occurrence.finished_at)],
            reverse("clients:list"): [moment_text(refused.created_at)],
            reverse("messages:list"): [moment_text(mailing.message.updated_at)],
        }
    assert re.fullmatch(r"[A-Z][a-z]+ \d{1,2}, \d{4}, \d{1,2}:\d{2} [AP]M", scheduled)
    for url, moments in expected.items():
        html = client.get(url).content.decode()
        for text in moments:
            assert text in html, (url, text)
        assert not OTHER_FORMATS.search(html), (url, OTHER_FORMATS.search(html).group(0))


def test_the_pages_write_moments_in_russian_too(client, owner, smtp):
    mailing = due_mailing(owner=owner, clients=1)
    send_due()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    html = client.get(reverse("mailings:report", args=[mailing.pk])).content.decode()
    with timezone.override(MOSCOW), translation.override("ru"):
        scheduled = moment_text(mailing.occurrences.get().scheduled_for)
    assert re.fullmatch(r"\d{1,2} \w+ \d{4} г\., \d{2}:\d{2}", scheduled)  # noqa: RUF001
    assert scheduled in html


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_first_and_next_send_end_with_the_moment_and_no_doubled_period(client, owner, language):
    """ "The first send is due Dec. 10, 2026, 10 a.m.." (the date format ends in a period).
    The moment comes last after a colon, with no period of the sentence's own."""
    mailing = MailingFactory(owner=owner)
    mailing.next_run_at = mailing.start_at
    mailing.save(update_fields=["next_run_at"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    with timezone.override(MOSCOW), translation.override(language):
        moment = moment_text(mailing.start_at)
    detail = client.get(reverse("mailings:detail", args=[mailing.pk])).content.decode()
    report = client.get(reverse("mailings:report", args=[mailing.pk])).content.decode()
    first = re.search(r'data-testid="first-send">([^<]*)</span>', detail).group(1)
    following = re.search(r'data-testid="next-send">([^<]*)</span>', report).group(1)
    assert first.endswith(f": {moment}") and following.endswith(f": {moment}")
    if language == "en":
        assert (first, following) == (f"First send: {moment}", f"Next send: {moment}")
    assert ".." not in detail and ".." not in report.replace("...", "")
