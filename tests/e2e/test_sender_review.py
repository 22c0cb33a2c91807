"""The manager dashboard's review of senders in a real browser (R-DLV-5): a sender paused by the automatic
review is listed under "Needs review" with their figures; the manager resumes them (the row goes, the owner
sends again), sets another owner's quota in the Users tab, and blocks a second paused sender."""

import datetime as dt

import pytest
from django.utils import timezone

from backend.accounts.models import SendingDecision, User
from backend.mailings import services
from backend.mailings.models import Client, Delivery, Occurrence
from tests.factories import MailingFactory, UserFactory

from .test_manager_dashboard import log_in, make_managers_member, record_errors, rows, wait_ready
from .waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]


def bounced_sends(owner: User, count: int, bounced: int) -> None:
    at = timezone.now() - dt.timedelta(hours=1)
    mailing = MailingFactory(owner=owner)
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=at)
    clients = Client.objects.bulk_create(
        [Client(owner=owner, email=f"{owner.pk}-{i}@example.org", full_name="R") for i in range(count)]
    )
    Delivery.objects.bulk_create(
        [
            Delivery(
                mailing=mailing,
                occurrence=occurrence,
                client=client,
                email=client.email,
                status="sent",
                sent_at=at,
                bounced_at=at if i < bounced else None,
            )
            for i, client in enumerate(clients)
        ]
    )


def test_a_manager_resumes_blocks_and_sets_a_quota_R_DLV_5(live_server, page, settings):
    settings.SEND_QUOTA_DAILY = 1000
    settings.SEND_QUOTA_NEW_ACCOUNT_DAILY = 200
    base = live_server.url
    manager = make_managers_member(email="boss@example.com")
    ursula = UserFactory(email="ursula.bounces@example.com")
    viktor = UserFactory(email="viktor.bounces@example.com")
    quiet = UserFactory(email="quiet.owner@example.com")
    bounced_sends(ursula, 100, 9)
    bounced_sends(viktor, 100, 20)
    assert sorted(services.review_senders()) == sorted([ursula.pk, viktor.pk])
    errors = record_errors(page)

    log_in(page, base, manager.email)
    wait_ready(page, "review")
    assert rows(page, "review").count() == 2
    row = page.locator("[data-testid=review-row][data-email='ursula.bounces@example.com']")
    assert row.locator("[data-testid=review-sent]").inner_text() == "100"
    assert row.locator("[data-testid=review-bounce-rate]").inner_text().startswith("9.0%")
    assert "bounced" in row.locator("[data-testid=review-reason]").inner_text()

    row.locator("[data-action=resume]").click()
    page.locator("#confirm-modal [data-confirm-ok]").click()
    wait_until(page, "() => document.querySelectorAll('[data-testid=review-row]').length === 1")
    assert User.objects.get(pk=ursula.pk).sending_paused_at is None
    assert SendingDecision.objects.filter(user=ursula, action="resumed", actor=manager).exists()

    page.locator("[data-testid=review-row] [data-action=block-sender]").click()
    page.fill("#block-reason", "Bought list")
    page.locator("[data-block-submit]").click()
    wait_until(page, "() => document.querySelectorAll('[data-testid=review-row]').length === 0")
    assert User.objects.get(pk=viktor.pk).is_blocked
    assert SendingDecision.objects.filter(user=viktor, action="blocked", actor=manager).exists()

    page.click("#users-tab")
    wait_ready(page, "users")
    user_row = page.locator("[data-testid=user-row][data-email='quiet.owner@example.com']")
    assert user_row.locator("[data-testid=quota]").inner_text().startswith("0 / 200")
    user_row.locator("[data-testid=quota-edit]").click()
    page.fill("#quota-value", "5000")
    page.fill("#quota-reason", "trusted shop")
    page.locator("[data-quota-submit]").click()
    wait_until(
        page,
        """() => {
            const row = document.querySelector("[data-email='quiet.owner@example.com']");
            const cell = row && row.querySelector("[data-testid=quota]");
            return cell && cell.textContent.startsWith("0 / 5000");
        }""",
    )
    assert User.objects.get(pk=quiet.pk).send_quota_daily == 5000
    assert SendingDecision.objects.get(user=quiet).reason == "trusted shop"
    assert errors == []
