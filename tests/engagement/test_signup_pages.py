"""The owner's sign-up form pages (R-ENG-1): list, create, edit, delete, the page with the hosted link and
the snippet — owner-scoped (R-AUTH-4); and a tag marked public for the preferences page (R-ENG-3)."""

import html as htmllib
import re

import pytest
from django.core import mail
from django.urls import reverse

from backend.mailings import services
from backend.mailings.models import Client, SignupForm, Tag
from tests.factories import TagFactory, UserFactory
from tests.pages_helpers import assert_refused_page, refused_accounts
from tests.senders_helpers import confirmed_identity

from .signup_helpers import confirm_path, make_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


def form_data(**changes) -> dict:
    data = {
        "name": "Blog footer",
        "title": "Our newsletter",
        "description": "Once a month.",
        "consent_text": "I agree to receive the newsletter.",
        "thank_you_text": "Thanks!",
        "is_active": "on",
    }
    data.update(changes)
    return data


def test_an_owner_creates_a_form_with_tags_and_sender_and_sees_link_and_snippet_R_ENG_1(
    client, owner, settings
):
    settings.SITE_URL = "https://mailer.example.com"
    news = TagFactory(owner=owner, name="news")
    identity = confirmed_identity(owner)
    response = client.post(reverse("signups:new"), form_data(tags=[news.pk], sender=identity.pk))
    form = SignupForm.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("signups:detail", args=[form.pk])
    assert (form.owner, form.sender, list(form.tags.all())) == (owner, identity, [news])
    page = client.get(response["Location"]).content.decode()
    hosted = f"https://mailer.example.com/subscribe/{form.public_id}/"
    assert f'id="signup-hosted-url" target="_blank" rel="noopener">{hosted}</a>' in page
    snippet = htmllib.unescape(
        re.search(r'<textarea[^>]*id="signup-snippet"[^>]*>(.*?)</textarea>', page, re.S)[1]
    )
    assert f'<form action="{hosted}" method="post"' in snippet
    assert 'name="email"' in snippet and 'name="full_name"' in snippet and 'name="website"' in snippet
    assert "<script" not in snippet
    listing = client.get(reverse("signups:list")).content.decode()
    assert "Blog footer" in listing


def test_the_pasted_snippet_subscribes_an_address_R_ENG_1(client, owner, settings):
    """What the snippet posts (its field names) is what the endpoint takes."""
    news = TagFactory(owner=owner, name="news")
    form = services.signup_form_create(actor=owner, data={**form_data(), "tags": [news.pk]})
    page = client.get(reverse("signups:detail", args=[form.pk])).content.decode()
    snippet = htmllib.unescape(re.search(r'id="signup-snippet"[^>]*>(.*?)</textarea>', page, re.S)[1])
    names = set(re.findall(r'name="([a-z_]+)"', snippet))
    assert names == {"email", "full_name", "website"}
    action = re.search(r'action="([^"]+)"', snippet)[1].removeprefix(settings.SITE_URL)
    client.logout()
    response = client.post(action, {"email": "visitor@example.org", "full_name": "", "website": ""})
    assert response.status_code == 302
    client.post(confirm_path(mail.outbox[0]))
    assert list(Client.objects.get(email="visitor@example.org").tags.all()) == [news]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"consent_text": ""}, "consent_text"),
        ({"thank_you_text": "x" * 2001}, "thank_you_text"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_is_shown_on_the_form_and_saves_nothing_R_ENG_1(client, owner, changes, field):
    response = client.post(reverse("signups:new"), form_data(**changes))
    assert response.status_code == 200
    assert f'id="id_{field}"' in response.content.decode() and "is-invalid" in response.content.decode()
    assert not SignupForm.objects.exists()


def test_another_owners_tag_or_sender_is_not_a_choice_R_ENG_1(client, owner):
    other = UserFactory()
    theirs = TagFactory(owner=other)
    their_sender = confirmed_identity(other)
    for changes in ({"tags": [theirs.pk]}, {"sender": their_sender.pk}):
        response = client.post(reverse("signups:new"), form_data(**changes))
        assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not SignupForm.objects.exists()


def test_an_owner_edits_and_deletes_their_form_R_ENG_1(client, owner):
    form = make_form(owner)
    response = client.post(reverse("signups:edit", args=[form.pk]), form_data(name="Renamed", is_active=""))
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.name == "Renamed" and not form.is_active
    assert client.post(reverse("signups:delete", args=[form.pk])).status_code == 302
    assert not SignupForm.objects.exists()


def test_another_owners_form_is_not_found_on_every_page_R_AUTH_4(client, owner):
    theirs = make_form(name="Their form")
    for name in ("detail", "edit", "delete"):
        url = reverse(f"signups:{name}", args=[theirs.pk])
        assert client.get(url).status_code == 404
        if name != "detail":
            assert client.post(url, form_data()).status_code == 404
    assert "Their form" not in client.get(reverse("signups:list")).content.decode()
    theirs.refresh_from_db()
    assert theirs.name == "Their form"


def test_accounts_without_owner_pages_are_refused_and_visitors_sent_to_login_R_AUTH_5(client):
    assert client.get(reverse("signups:list")).status_code == 302
    for user in refused_accounts().values():
        client.force_login(user)
        assert_refused_page(client.get(reverse("signups:list")))
        assert_refused_page(client.post(reverse("signups:new"), form_data()))
    assert not SignupForm.objects.exists()


def test_the_service_checks_the_actor_R_ENG_1():
    from django.core.exceptions import PermissionDenied

    form = make_form()
    with pytest.raises(PermissionDenied):
        services.signup_form_update(actor=UserFactory(), signup_form=form, data=form_data())
    with pytest.raises(PermissionDenied):
        services.signup_form_delete(actor=UserFactory(), signup_form=form)
    assert SignupForm.objects.filter(pk=form.pk, name="Newsletter").exists()


def test_an_owner_marks_a_tag_public_and_a_rename_without_the_field_keeps_it_R_ENG_3(client, owner):
    response = client.post(reverse("tags:new"), {"name": "News", "is_public": ["false", "on"]})
    assert response.status_code == 302
    tag = Tag.objects.get()
    assert tag.is_public
    assert (
        'name="is_public" value="false"' in client.get(reverse("tags:edit", args=[tag.pk])).content.decode()
    )
    # The API's rename (and the admin) send no such field: the tag stays public.
    services.tag_update(actor=owner, tag=tag, data={"name": "Newsletter"})
    tag.refresh_from_db()
    assert (tag.name, tag.is_public) == ("Newsletter", True)
    # The page's unticked box sends only the hidden "false".
    client.post(reverse("tags:edit", args=[tag.pk]), {"name": "Newsletter", "is_public": "false"})
    tag.refresh_from_db()
    assert not tag.is_public
    assert "On preferences page" in client.get(reverse("tags:list")).content.decode()


def test_a_superuser_builds_a_form_for_an_owner_in_the_admin_and_reads_consents_R_ENG_1(client):
    root = UserFactory(is_superuser=True, is_staff=True)
    owner = UserFactory()
    news, theirs = TagFactory(owner=owner, name="news"), TagFactory(name="theirs")
    client.force_login(root)
    add = reverse("admin:mailings_signupform_add") + f"?owner={owner.pk}"
    refused = client.post(add, form_data(tags=[theirs.pk]))
    assert refused.status_code == 200 and not SignupForm.objects.exists()
    assert client.post(add, form_data(tags=[news.pk])).status_code == 302
    form = SignupForm.objects.get()
    assert form.owner == owner and list(form.tags.all()) == [news]
    assert client.get(reverse("admin:mailings_signupform_changelist")).status_code == 200
    assert client.get(reverse("admin:mailings_consent_changelist")).status_code == 200
