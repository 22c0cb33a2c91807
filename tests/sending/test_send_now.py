"""One home for "who gets sent what" (R-SEND-6, R-SEND-8) and a schedule that never goes
backwards (R-SEND-3).

`mailing_send_now` is the one service the command, the pages and GraphQL call; the dry-run and a real send
pick their recipients from the same selector, so they cannot disagree.
"""

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from backend.mailings import selectors, services
from backend.mailings.models import Client, Delivery, Mailing, Occurrence
from backend.mailings.sending import send_due
from tests.factories import ClientFactory, UserFactory, make_manager
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def listed(output: str) -> set[str]:
    return set(re.findall(r"^  (\S+@\S+)$", output, flags=re.MULTILINE))


def awkward_mailing():
    """A mailing whose client list holds every case the rule must handle (R-SEND-8)."""
    mailing = due_mailing(clients=0)
    owner = mailing.owner
    kept = ClientFactory(owner=owner, email="kept@example.org")
    left = ClientFactory(owner=owner, email="left@example.org")
    services.client_unsubscribe(client=left)
    # Unsubscribed, deleted, then added again behind the service's back (a shell, an old import): the
    # per-owner list still says no.
    returning = ClientFactory(owner=owner, email="returning@example.org")
    services.client_unsubscribe(client=returning)
    returning.delete()
    returned = ClientFactory(owner=owner, email="RETURNING@example.org")
    # A superuser moves a client to another owner's list: it leaves this owner's mailing.
    moved = ClientFactory(owner=owner, email="moved@example.org")
    mailing.clients.set([kept, left, returned, moved])
    Client.objects.filter(pk=moved.pk).update(owner=UserFactory())
    return mailing


def test_recipients_of_applies_every_rule():
    mailing = awkward_mailing()
    assert [c.email for c in selectors.recipients_of(mailing)] == ["kept@example.org"]


def test_dry_run_and_a_real_send_pick_exactly_the_same_addresses(smtp):
    """The dry-run used to ignore the per-owner unsubscribe list; the real send used to include
    a client moved to another owner."""
    mailing = awkward_mailing()
    dry = listed(run("send_mailing", str(mailing.pk), "--dry-run"))
    assert not smtp.received
    run("send_mailing", str(mailing.pk))
    assert dry == set(smtp.recipients()) == {"kept@example.org"}


def test_the_scheduler_sends_to_the_same_addresses(smtp):
    mailing = awkward_mailing()
    send_due()
    assert set(smtp.recipients()) == {"kept@example.org"}
    assert set(Delivery.objects.filter(mailing=mailing).values_list("email", flat=True)) == {
        "kept@example.org"
    }


@pytest.mark.parametrize(
    ("setup", "code", "text"),
    [
        (lambda m: Mailing.objects.filter(pk=m.pk).update(is_active=False), "mailing_disabled", "disabled"),
        (
            lambda m: type(m.owner).objects.filter(pk=m.owner_id).update(is_blocked=True),
            "owner_cannot_act",
            "blocked or inactive",
        ),
        (
            lambda m: Mailing.objects.filter(pk=m.pk).update(status="completed"),
            "mailing_completed",
            "completed",
        ),
        (lambda m: m.clients.clear(), "no_recipients", "no subscribed clients"),
    ],
)
def test_dry_run_and_real_send_refuse_the_same_states_with_codes(smtp, setup, code, text):
    mailing = due_mailing(clients=2)
    setup(mailing)
    mailing = Mailing.objects.get(pk=mailing.pk)
    superuser = UserFactory(is_superuser=True, is_staff=True)
    with pytest.raises(ValidationError) as refused:
        services.mailing_send_now(actor=superuser, mailing=mailing)
    assert refused.value.code == code
    for args in [(), ("--dry-run",)]:
        with pytest.raises(CommandError, match=text):
            call_command("send_mailing", str(mailing.pk), *args, stdout=StringIO())
    assert not smtp.received
    assert not Occurrence.objects.exists()


@pytest.mark.parametrize("who", ["stranger", "manager", "blocked owner", "anonymous", "nobody"])
def test_only_the_owner_or_a_superuser_may_send_now(who):
    """A caller that lost its user (None, anonymous) is refused too: only the named OPERATOR of the command
    line skips the actor check."""
    from django.contrib.auth.models import AnonymousUser

    mailing = due_mailing(clients=1)
    if who == "anonymous":
        actor = AnonymousUser()
    elif who == "nobody":
        actor = None
    elif who == "stranger":
        actor = UserFactory()
    elif who == "manager":
        actor = make_manager()
    else:
        actor = mailing.owner
        actor.is_blocked = True
        actor.save()
    with pytest.raises(PermissionDenied):
        services.mailing_send_now(actor=actor, mailing=mailing)
    with pytest.raises(PermissionDenied):
        services.mailing_check_send_now(actor=actor, mailing=mailing)
    assert not Occurrence.objects.exists()


def test_send_now_queues_and_sends_nothing_inline(smtp):
    """The page and the API return at once; the scheduler's next pass sends (R-SEND-6)."""
    mailing = due_mailing(clients=3, start_at=timezone.now() + dt.timedelta(days=1))
    occurrence = services.mailing_send_now(actor=mailing.owner, mailing=mailing)
    assert occurrence.is_manual
    assert occurrence.deliveries.filter(status=Delivery.Status.PENDING).count() == 3
    assert not smtp.received
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.STARTED
    assert mailing.next_run_at == mailing.start_at  # the schedule is unchanged
    send_due()
    assert len(smtp.received) == 3


def test_a_double_click_does_not_double_the_send(smtp):
    mailing = due_mailing(clients=2, start_at=timezone.now() + dt.timedelta(days=1))
    services.mailing_send_now(actor=mailing.owner, mailing=mailing)
    with pytest.raises(ValidationError) as refused:
        services.mailing_send_now(actor=mailing.owner, mailing=mailing)
    assert refused.value.code == "send_in_progress"
    send_due()
    assert len(smtp.received) == 2
    # Once that send is over, sending again is a new, deliberate send.
    services.mailing_send_now(actor=mailing.owner, mailing=mailing)
    send_due()
    assert len(smtp.received) == 4


# --- the schedule never goes backwards -----------------------------------------


def weekly_started(smtp):
    """A weekly mailing whose first occurrence went out a day ago."""
    start = (timezone.now() - dt.timedelta(days=1)).replace(second=0, microsecond=0)
    mailing = due_mailing(clients=2, periodicity="weekly", start_at=start)
    send_due(now=start + dt.timedelta(seconds=1))
    assert len(smtp.received) == 2
    mailing.refresh_from_db()
    assert mailing.next_run_at == mailing.start_at + dt.timedelta(days=7)
    return mailing


def test_edit_of_a_started_weekly_mailing_keeps_the_next_slot(smtp):
    from tests.mailings.test_forms import local_input, mailing_data

    mailing = weekly_started(smtp)
    zone = mailing.owner.time_zone
    data = mailing_data(
        mailing.owner,
        message=mailing.message,
        clients=[*mailing.clients.all(), ClientFactory(owner=mailing.owner)],
        periodicity="weekly",
        start_at=local_input(mailing.start_at, zone),
        end_at=local_input(mailing.end_at, zone),
    )
    mailing = services.mailing_update(actor=mailing.owner, mailing=mailing, data=data)
    assert mailing.next_run_at > timezone.now()
    summary = send_due()
    assert summary.occurrences == 0
    assert len(smtp.received) == 2


def test_disable_then_enable_keeps_the_next_slot(smtp):
    mailing = weekly_started(smtp)
    manager = make_manager()
    services.mailing_disable(actor=manager, mailing=mailing)
    mailing = services.mailing_enable(actor=manager, mailing=mailing)
    assert mailing.next_run_at == mailing.start_at + dt.timedelta(days=7)
    summary = send_due()
    assert (summary.occurrences, summary.queued, summary.sent) == (0, 0, 0)
    assert Occurrence.objects.filter(mailing=mailing).count() == 1
