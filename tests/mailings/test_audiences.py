"""Who a mailing goes to (R-AUD-1) and tags (R-AUD-2), in the domain: resolved when each occurrence starts,
in SQL, through the one recipient rule."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.mailings import scheduling, selectors, services
from backend.mailings.errors import ErrorCode
from backend.mailings.models import Client, ClientTag, Mailing, Occurrence, Tag
from tests.factories import ClientFactory, MailingFactory, TagFactory, UserFactory, make_manager
from tests.mailings.test_forms import mailing_data

pytestmark = pytest.mark.django_db


def emails(queryset) -> set[str]:
    return set(queryset.values_list("email", flat=True))


def tagged(tag: Tag, *clients: Client) -> None:
    ClientTag.objects.bulk_create([ClientTag(client=client, tag=tag) for client in clients])


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def people(owner):
    """Four clients of `owner` (one unsubscribed) and one of another owner, with tags vip and news."""
    ann, bob, cat, dan = (
        ClientFactory(owner=owner, email=f"{n}@example.org") for n in ("ann", "bob", "cat", "dan")
    )
    dan.unsubscribed_at = timezone.now()
    dan.save()
    vip, news = TagFactory(owner=owner, name="vip"), TagFactory(owner=owner, name="news")
    tagged(vip, ann, bob, dan)
    tagged(news, bob, cat, dan)
    stranger = ClientFactory(email="eve@example.org")
    return {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "vip": vip, "news": news, "stranger": stranger}


def test_everyone_is_every_subscribed_client_of_the_owner_only(owner, people):
    mailing = MailingFactory(owner=owner, audience=Mailing.Audience.EVERYONE)
    assert emails(selectors.recipients_of(mailing)) == {
        "ann@example.org",
        "bob@example.org",
        "cat@example.org",
    }
    assert selectors.audience_size(mailing) == 3


def test_tags_any_and_all(owner, people):
    mailing = MailingFactory(
        owner=owner, audience=Mailing.Audience.TAGS, tags=[people["vip"], people["news"]]
    )
    assert emails(selectors.recipients_of(mailing)) == {
        "ann@example.org",
        "bob@example.org",
        "cat@example.org",
    }
    mailing.tag_match = Mailing.TagMatch.ALL
    mailing.save()
    assert emails(selectors.recipients_of(mailing)) == {"bob@example.org"}


def test_a_tag_audience_without_tags_or_with_another_owners_tag_is_nobody(owner, people):
    mailing = MailingFactory(owner=owner, audience=Mailing.Audience.TAGS)
    assert selectors.audience_size(mailing) == 0
    foreign = TagFactory(owner=people["stranger"].owner)
    tagged(foreign, people["stranger"], people["ann"])  # a stray row across owners must not widen anything
    mailing.tags.set([foreign])
    assert selectors.audience_size(mailing) == 0


def test_chosen_clients_are_those_chosen_and_still_subscribed(owner, people):
    mailing = MailingFactory(owner=owner, clients=[people["ann"], people["dan"]])
    assert mailing.audience == Mailing.Audience.CLIENTS  # the default: what every mailing was before
    assert emails(selectors.recipients_of(mailing)) == {"ann@example.org"}


def test_a_client_tagged_before_the_next_occurrence_receives_it_and_one_untagged_does_not(owner, people):
    """The daily mailing's audience is read when each occurrence starts, not when the mailing was made."""
    mailing = MailingFactory(owner=owner, audience=Mailing.Audience.TAGS, tags=[people["vip"]])
    now = timezone.now()
    first = Occurrence.objects.create(mailing=mailing, scheduled_for=now)
    assert scheduling.materialise(first, now) == 2  # ann, bob (dan unsubscribed)

    newcomer = ClientFactory(owner=owner, email="new@example.org")
    services.clients_tag(actor=owner, tag=people["vip"], clients=Client.objects.filter(pk=newcomer.pk))
    services.clients_untag(actor=owner, tag=people["vip"], clients=Client.objects.filter(pk=people["ann"].pk))
    second = Occurrence.objects.create(mailing=mailing, scheduled_for=now + dt.timedelta(days=1))
    scheduling.materialise(second, now)
    assert set(second.deliveries.values_list("email", flat=True)) == {"bob@example.org", "new@example.org"}
    assert set(first.deliveries.values_list("email", flat=True)) == {"ann@example.org", "bob@example.org"}


def test_materialising_an_empty_audience_inserts_nothing(owner, people):
    mailing = MailingFactory(owner=owner, audience=Mailing.Audience.TAGS)
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
    assert scheduling.materialise(occurrence, timezone.now()) == 0


def test_materialise_is_one_insert_whatever_the_audience_size(owner):
    Client.objects.bulk_create(
        [Client(owner=owner, email=f"r{n}@example.org", full_name="R") for n in range(500)]
    )
    mailing = MailingFactory(owner=owner, audience=Mailing.Audience.EVERYONE)
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
    with CaptureQueriesContext(connection) as captured:
        assert scheduling.materialise(occurrence, timezone.now()) == 500
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1 and "SELECT" in inserts[0]


def test_tag_names_are_unique_per_owner_in_any_letter_case(owner):
    services.tag_create(actor=owner, data={"name": "  Big   Spenders "})
    assert Tag.objects.get(owner=owner).name == "Big Spenders"
    with pytest.raises(services.FormInvalid) as refused:
        services.tag_create(actor=owner, data={"name": "big spenders"})
    assert refused.value.form.errors.as_data()["name"][0].code == ErrorCode.DUPLICATE_TAG
    with pytest.raises(services.FormInvalid):
        services.tag_create(actor=owner, data={"name": "a,b"})
    services.tag_create(actor=UserFactory(), data={"name": "big spenders"})  # another owner: fine


def test_bulk_tag_by_search_is_one_statement_and_stays_in_the_owners_list(owner, people):
    Client.objects.bulk_create(
        [Client(owner=owner, email=f"shop{n}@example.org", full_name="Shopper") for n in range(300)]
    )
    ClientFactory(email="shop-elsewhere@example.org")  # another owner's, matching the same search
    matching = selectors.client_list(owner, {"search": "shop"}).qs
    tag = people["news"]
    with CaptureQueriesContext(connection) as captured:
        added = services.clients_tag(actor=owner, tag=tag, clients=matching)
    writes = [q for q in captured.captured_queries if q["sql"].startswith(("INSERT", "DELETE", "UPDATE"))]
    assert added == 300 and len(writes) == 1
    assert services.clients_tag(actor=owner, tag=tag, clients=matching) == 0  # idempotent
    # A queryset reaching beyond the tag's owner (a careless caller) still tags only the owner's clients.
    assert services.clients_tag(actor=owner, tag=tag, clients=Client.objects.all()) == 1  # ann, the one left
    assert not ClientTag.objects.filter(tag=tag).exclude(client__owner=owner).exists()
    removed = services.clients_untag(actor=owner, tag=tag, clients=matching)
    assert removed == 300
    assert selectors.client_list(owner, {"tag": tag.pk}).qs.count() == 4  # ann, bob, cat, dan


def test_others_managers_and_blocked_users_cannot_touch_a_tag(owner, people):
    tag = people["vip"]
    blocked = UserFactory()
    blocked.is_blocked = True
    blocked.save()
    for actor in (UserFactory(), make_manager()):
        with pytest.raises(PermissionDenied):
            services.tag_update(actor=actor, tag=tag, data={"name": "mine"})
        with pytest.raises(PermissionDenied):
            services.clients_tag(actor=actor, tag=tag, clients=Client.objects.all())
        with pytest.raises(PermissionDenied):
            services.tag_delete(actor=actor, tag=tag)
    assert selectors.tags_for(make_manager()).count() == 0
    assert list(selectors.tags_for(UserFactory())) == []


def test_a_tag_a_running_mailing_sends_to_cannot_be_deleted(owner, people):
    mailing = MailingFactory(owner=owner, audience=Mailing.Audience.TAGS, tags=[people["vip"]])
    with pytest.raises(ValidationError) as refused:
        services.tag_delete(actor=owner, tag=people["vip"])
    assert refused.value.code == ErrorCode.TAG_IN_USE
    mailing.status = Mailing.Status.COMPLETED
    mailing.save()
    services.tag_delete(actor=owner, tag=people["vip"])
    assert not Tag.objects.filter(pk=people["vip"].pk).exists()
    assert Client.objects.filter(pk=people["ann"].pk).exists()  # the clients stay


def test_tag_sizes(owner, people):
    sizes = {tag.name: tag.size for tag in selectors.tag_list(owner, {}).qs}
    assert sizes == {"vip": 3, "news": 3}


# --- the mailing form's audience --------------------------------------------------------------------


def test_form_creates_each_audience(owner, people):
    tags = mailing_data(
        owner, clients=[people["ann"]], audience="tags", tags=[people["vip"].pk], tag_match="all"
    )
    mailing = services.mailing_create(actor=owner, data=tags)
    assert (mailing.audience, mailing.tag_match, list(mailing.tags.all())) == ("tags", "all", [people["vip"]])
    everyone = services.mailing_create(
        actor=owner, data=mailing_data(owner, clients=[people["ann"]], audience="everyone")
    )
    assert selectors.audience_size(everyone) == 3
    with pytest.raises(services.FormInvalid) as refused:
        services.mailing_create(actor=owner, data=mailing_data(owner, audience="tags"))
    assert refused.value.form.errors.as_data()["tags"][0].code == ErrorCode.REQUIRED
    foreign = TagFactory()
    with pytest.raises(services.FormInvalid) as refused:
        services.mailing_create(actor=owner, data=mailing_data(owner, audience="tags", tags=[foreign.pk]))
    assert refused.value.form.errors.as_data()["tags"][0].code == ErrorCode.INVALID_CHOICE


def test_form_changes_chosen_clients_without_the_whole_list(owner, people):
    data = mailing_data(owner, clients=[people["ann"], people["bob"]])
    mailing = services.mailing_create(actor=owner, data=data)
    edit = {key: value for key, value in data.items() if key != "clients"}
    services.mailing_update(
        actor=owner,
        mailing=mailing,
        data={**edit, "clients_removed": [people["ann"].pk], "clients_added": [people["cat"].pk]},
    )
    assert set(mailing.clients.values_list("email", flat=True)) == {"bob@example.org", "cat@example.org"}
    # Nothing about clients sent: they stay as they are.
    services.mailing_update(actor=owner, mailing=mailing, data=edit)
    assert mailing.clients.count() == 2
    # Every client matching a search, in one statement; another owner's match is not added.
    services.mailing_update(actor=owner, mailing=mailing, data={**edit, "clients_matching": "example.org"})
    assert set(mailing.clients.values_list("email", flat=True)) == {
        "ann@example.org",
        "bob@example.org",
        "cat@example.org",
        "dan@example.org",
    }
    # Removing every chosen client leaves the mailing without an audience: refused, nothing changed.
    everyone = [people[name].pk for name in ("ann", "bob", "cat", "dan")]
    with pytest.raises(services.FormInvalid) as refused:
        services.mailing_update(actor=owner, mailing=mailing, data={**edit, "clients_removed": everyone})
    assert refused.value.form.errors.as_data()["clients"][0].code == ErrorCode.REQUIRED
    assert mailing.clients.count() == 4
    # Another owner's client is not a choice in any of the fields.
    for field in ("clients_added", "clients_removed"):
        with pytest.raises(services.FormInvalid):
            services.mailing_update(
                actor=owner, mailing=mailing, data={**edit, field: [people["stranger"].pk]}
            )


def test_an_api_call_naming_only_clients_still_means_chosen_clients(owner, people):
    mailing = services.mailing_create(actor=owner, data=mailing_data(owner, clients=[people["cat"]]))
    assert mailing.audience == Mailing.Audience.CLIENTS
    assert emails(selectors.recipients_of(mailing)) == {"cat@example.org"}


# --- the migration keeps every existing mailing's chosen clients --------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_existing_mailings_on_their_chosen_clients():
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    before, after = [("mailings", "0004_breakerstate")], [("mailings", "0005_audiences_and_tags")]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        # Only the mailings app went back; the users table is as the current model says.
        user = UserFactory()
        client = old.get_model("mailings", "Client").objects.create(
            owner_id=user.pk, email="c@example.org", full_name="C"
        )
        message = old.get_model("mailings", "Message").objects.create(owner_id=user.pk, subject="S", body="B")
        now = timezone.now()
        mailing = old.get_model("mailings", "Mailing").objects.create(
            owner_id=user.pk, message=message, start_at=now, end_at=now + dt.timedelta(days=1)
        )
        mailing.clients.set([client])
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        migrated = new.get_model("mailings", "Mailing").objects.get(pk=mailing.pk)
        assert migrated.audience == "clients"
        assert list(migrated.clients.values_list("email", flat=True)) == ["c@example.org"]
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_the_form_never_loads_a_mailings_chosen_clients(owner):
    """R-AUD-3: an edit of a mailing to 100,000 chosen clients must not read them all (a ModelForm reads a
    many-to-many field's whole value when it is built)."""
    from backend.mailings.forms import MailingForm

    Client.objects.bulk_create(
        [Client(owner=owner, email=f"c{n}@example.org", full_name="C") for n in range(60)]
    )
    data = mailing_data(owner, clients=list(Client.objects.filter(owner=owner)))
    mailing = services.mailing_create(actor=owner, data=data)
    edit = {key: value for key, value in data.items() if key != "clients"}
    with CaptureQueriesContext(connection) as captured:
        form = MailingForm(
            data={**edit, "clients_removed": [mailing.clients.first().pk]}, instance=mailing, owner=owner
        )
        assert form.is_valid(), form.errors
        form.save()
        MailingForm(instance=mailing, owner=owner).as_div()
    whole_reads = [
        q["sql"]
        for q in captured.captured_queries
        if '"mailings_client"."email"' in q["sql"]
        and "LIMIT" not in q["sql"]
        and "mailings_mailing_clients" in q["sql"]
    ]
    assert whole_reads == []
    assert mailing.clients.count() == 59


def test_a_tag_saved_meanwhile_under_the_same_name_is_a_form_error_not_a_500(owner):
    """The form checked the name; another request saved it before this one (the unique constraint)."""
    from backend.mailings.forms import TagForm
    from backend.mailings.services.tags import _saved

    form = TagForm(data={"name": "News"}, owner=owner)
    assert form.is_valid()
    Tag.objects.create(owner=owner, name="NEWS")
    with pytest.raises(services.FormInvalid) as refused:
        _saved(form)
    assert refused.value.form.errors.as_data()["name"][0].code == ErrorCode.DUPLICATE_TAG
    assert Tag.objects.filter(owner=owner).count() == 1


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ("everyone", ["ann@example.org", "bob@example.org", "cat@example.org"]),
        ("tags", ["ann@example.org", "bob@example.org"]),
        ("clients", ["cat@example.org"]),
    ],
)
def test_the_engine_sends_each_audience_and_rechecks_it_before_sending(
    owner, people, smtp, audience, expected
):
    """The engine asks `recipients_of` again just before it sends (a client who left since the occurrence
    started is skipped); it must ask with the mailing's real audience, not only its chosen clients."""
    from backend.mailings.sending import send_due

    now = timezone.now()
    MailingFactory(
        owner=owner,
        audience=audience,
        tags=[people["vip"]],
        clients=[people["cat"]],
        start_at=now - dt.timedelta(minutes=1),
        next_run_at=now - dt.timedelta(minutes=1),
    )
    summary = send_due(now=now)
    assert sorted(smtp.recipients()) == expected
    assert summary.skipped == 0


def test_a_tag_deleted_between_the_forms_check_and_the_save_is_a_form_error(owner, people, monkeypatch):
    """The mailing's save locks its tags and finds one gone: a field error, nothing saved (not a foreign-key
    failure, a 500). `tag_delete` takes the same lock, so on PostgreSQL the two cannot interleave."""
    from backend.mailings.forms import MailingForm

    checked = MailingForm.clean

    def clean_then_tag_deleted(form):
        cleaned = checked(form)
        Tag.objects.filter(pk=people["vip"].pk).delete()  # another request, after this one's check
        return cleaned

    monkeypatch.setattr(MailingForm, "clean", clean_then_tag_deleted)
    data = mailing_data(owner, clients=[people["ann"]], audience="tags", tags=[people["vip"].pk])
    before = Mailing.objects.count()
    with pytest.raises(services.FormInvalid) as refused:
        services.mailing_create(actor=owner, data=data)
    assert refused.value.form.errors.as_data()["tags"][0].code == ErrorCode.INVALID_CHOICE
    assert Mailing.objects.count() == before


def test_deleting_a_tag_already_gone_is_quietly_done(owner, people):
    tag = people["news"]
    Tag.objects.filter(pk=tag.pk).delete()
    services.tag_delete(actor=owner, tag=tag)  # a second click, another tab: nothing left to do
    assert not Tag.objects.filter(pk=tag.pk).exists()


def test_everyones_size_counts_exactly_what_an_occurrence_would_reach_R_AUD_1():
    """The size of "everyone subscribed" is two cheap counts (subscribed, minus those on the unsubscribe
    list) instead of one anti-join over every address: the same number as counting `recipients_of`,
    including an address on the list whose client row says subscribed (added by a path that did not look)."""
    from backend.mailings.models import Unsubscription

    owner, other = UserFactory(), UserFactory()
    for n in range(5):
        ClientFactory(owner=owner, email=f"reader{n}@example.org")
    ClientFactory(owner=owner, email="gone@example.org", unsubscribed_at=timezone.now())
    ClientFactory(owner=owner, email="dead@example.org", bounced_at=timezone.now())
    ClientFactory(owner=owner, email="Mixed.Case@Example.org")  # subscribed by its row, but on the list
    Unsubscription.objects.create(owner=owner, email="mixed.case@example.org")
    Unsubscription.objects.create(owner=owner, email="gone@example.org")
    Unsubscription.objects.create(owner=owner, email="nobody-here@example.org")
    Unsubscription.objects.create(owner=other, email="reader0@example.org")  # another owner's list
    ClientFactory(owner=other, email="reader0@example.org")
    everyone = MailingFactory(owner=owner, audience=Mailing.Audience.EVERYONE)
    theirs = MailingFactory(owner=other, audience=Mailing.Audience.EVERYONE)
    assert selectors.audience_size(everyone) == selectors.recipients_of(everyone).count() == 5
    assert selectors.audience_size(theirs) == selectors.recipients_of(theirs).count() == 0
    assert selectors.audience_sizes([everyone, theirs]) == {everyone.pk: 5, theirs.pk: 0}
