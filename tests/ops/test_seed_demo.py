"""`seed_demo` makes a lived-in demo account: ~50 clients, three messages, mailings in every
status and periodicity, and a history with accepted, refused (550) and retried (451 then 250) deliveries whose
states agree with their attempt logs; re-runnable."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from backend.mailings import selectors
from backend.mailings.models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development(settings):
    """`make run`'s .env has DEBUG=1; the test runner turns DEBUG off."""
    settings.DEBUG = True


def test_seed_demo_refuses_to_run_with_debug_off_unless_forced(settings):
    """Issue item: with DEBUG off the command stops with a clear error and creates nobody (its manager's
    password is printed in the README); `--force` runs it."""
    settings.DEBUG = False
    with pytest.raises(CommandError, match=r"DEBUG is off.*--force"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not get_user_model().objects.exists()
    call_command("seed_demo", "--force", stdout=io.StringIO())
    assert get_user_model().objects.filter(email__iexact=settings.DEMO_EMAIL).exists()


def snapshot(owner) -> tuple:
    return (
        Client.objects.filter(owner=owner).count(),
        Message.objects.filter(owner=owner).count(),
        Mailing.objects.filter(owner=owner).count(),
        Occurrence.objects.filter(mailing__owner=owner).count(),
        Delivery.objects.filter(mailing__owner=owner).count(),
        DeliveryAttempt.objects.filter(delivery__mailing__owner=owner).count(),
    )


def test_seed_demo_is_re_runnable_and_fills_the_demo_account():
    call_command("seed_demo")
    demo = get_user_model().objects.get(email="demo@example.com")
    first = snapshot(demo)
    call_command("seed_demo")
    assert snapshot(demo) == first
    demo.refresh_from_db()
    assert demo.email_verified and demo.check_password("demo-mailer-2026")

    clients, messages, mailings, occurrences, deliveries, attempts = first
    assert 45 <= clients <= 55
    assert (messages, mailings) == (3, 6)
    assert occurrences > 5 and deliveries > 100 and attempts > deliveries
    assert Client.objects.filter(owner=demo, unsubscribed_at__isnull=False).count() == 1
    shapes = set(Mailing.objects.filter(owner=demo).values_list("status", "periodicity"))
    assert {status for status, _ in shapes} == set(Mailing.Status.values)
    assert {periodicity for _, periodicity in shapes} == set(Mailing.Periodicity.values)


def test_the_history_is_consistent_like_the_engine_leaves_it_R_DATA_4():
    call_command("seed_demo")
    demo = get_user_model().objects.get(email="demo@example.com")
    now = timezone.now()
    # Nothing is due: starting the scheduler after the seed sends nothing twice.
    assert not selectors.due_mailings(now).filter(owner=demo).exists()
    for mailing in Mailing.objects.filter(owner=demo):
        if mailing.status == Mailing.Status.COMPLETED:
            assert mailing.next_run_at is None and mailing.end_at < now
        else:
            assert mailing.next_run_at > now
        if mailing.status == Mailing.Status.CREATED:
            assert not mailing.occurrences.exists()
        else:
            assert mailing.occurrences.exists()
    for occurrence in Occurrence.objects.filter(mailing__owner=demo):
        assert occurrence.finished_at is not None and occurrence.scheduled_for <= now
        recipients = set(selectors.recipients_of(occurrence.mailing).values_list("pk", flat=True))
        assert set(occurrence.deliveries.values_list("client_id", flat=True)) == recipients
    outcomes = {"sent": "sent", "failed": "permanent"}
    retried = 0
    for delivery in Delivery.objects.filter(mailing__owner=demo).prefetch_related("attempt_log"):
        log = sorted(delivery.attempt_log.all(), key=lambda attempt: attempt.attempted_at)
        assert delivery.attempts == len(log) >= 1
        assert log[-1].outcome == outcomes[delivery.status]
        assert delivery.last_attempt_at == log[-1].attempted_at
        assert delivery.last_response == f"{log[-1].smtp_code} {log[-1].response}"
        assert (delivery.sent_at is not None) == (delivery.status == "sent")
        if len(log) == 2:
            assert [(a.outcome, a.smtp_code) for a in log] == [("temporary", 451), ("sent", 250)]
            retried += 1
    assert retried > 0
    assert Delivery.objects.filter(mailing__owner=demo, status="failed", attempt_log__smtp_code=550).exists()


def test_a_demo_mailing_deleted_by_hand_comes_back_on_the_next_run():
    call_command("seed_demo")
    demo = get_user_model().objects.get(email="demo@example.com")
    weekly = Mailing.objects.get(owner=demo, periodicity="weekly", status="created")
    weekly.delete()
    call_command("seed_demo")
    assert Mailing.objects.filter(owner=demo).count() == 6
    assert Mailing.objects.filter(owner=demo, periodicity="weekly", status="created").exists()
    assert Client.objects.filter(owner=demo).count() == 50


def test_seed_demo_makes_a_manager_who_may_open_the_manager_dashboard(client, settings):
    """A newcomer can open /manager/ from `make run` without the admin (R-AUTH-5 role)."""
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    manager = get_user_model().objects.get(email=settings.DEMO_MANAGER_EMAIL)
    assert list(manager.groups.values_list("name", flat=True)) == ["Managers"]
    assert manager.check_password(settings.DEMO_PASSWORD) and manager.email_verified
    client.force_login(manager)
    assert client.get("/manager/").status_code == 200
    assert client.get("/clients/").status_code == 403


def test_no_demo_manager_when_its_email_is_empty(settings):
    settings.DEMO_MANAGER_EMAIL = ""
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "manager" not in out.getvalue().lower()
    assert not get_user_model().objects.filter(groups__name="Managers").exists()


def test_every_demo_address_is_in_the_invalid_domain_so_nothing_demo_is_ever_sent_R_SEND_8(smtp, settings):
    """The demo's periodic mailings keep running; with a real EMAIL_HOST nothing of theirs may leave: every
    demo client is at a `.invalid` address (RFC 2606), which the engine skips before SMTP."""
    from backend.mailings.sending import send_due

    call_command("seed_demo", stdout=io.StringIO())
    demo = get_user_model().objects.get(email="demo@example.com")
    emails = list(Client.objects.filter(owner=demo).values_list("email", flat=True))
    assert len(emails) == 50 and all(email.endswith(".invalid") for email in emails)
    daily = Mailing.objects.get(owner=demo, periodicity="daily")
    Mailing.objects.filter(pk=daily.pk).update(next_run_at=timezone.now())
    summary = send_due()
    assert summary.sent == 0 and smtp.recipients() == []
    latest = daily.occurrences.order_by("-scheduled_for").first()
    assert set(latest.deliveries.values_list("status", flat=True)) == {"skipped"}
