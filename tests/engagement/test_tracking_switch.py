"""R-ENG-2: an owner turns tracking off and on per mailing, in the API and on the form; input that never
mentions it keeps what the mailing has (on for a new one)."""

import pytest
from django.urls import reverse

from backend.mailings.models import Mailing
from tests.api.helpers import data_of
from tests.api.test_mailings import CREATE, UPDATE, mailing_input
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TRACKING = "query Mailing($id: ID!) { mailing(id: $id) { tracking } }"


def test_r_eng_2_the_api_creates_with_tracking_on_and_turns_it_off_and_on():
    owner = UserFactory()
    created = data_of(CREATE, {"input": mailing_input(owner)}, user=owner)["createMailing"]
    gid = created["mailing"]["id"]
    assert data_of(TRACKING, {"id": gid}, user=owner)["mailing"]["tracking"] is True

    update = {"id": gid, "input": mailing_input(owner, tracking=False)}
    assert data_of(UPDATE, update, user=owner)["updateMailing"]["errors"] == []
    assert data_of(TRACKING, {"id": gid}, user=owner)["mailing"]["tracking"] is False
    # An update that leaves it out keeps it off.
    assert (
        data_of(UPDATE, {"id": gid, "input": mailing_input(owner)}, user=owner)["updateMailing"]["errors"]
        == []
    )
    assert data_of(TRACKING, {"id": gid}, user=owner)["mailing"]["tracking"] is False
    data_of(UPDATE, {"id": gid, "input": mailing_input(owner, tracking=True)}, user=owner)
    assert data_of(TRACKING, {"id": gid}, user=owner)["mailing"]["tracking"] is True


def test_r_eng_2_the_form_s_unticked_box_turns_tracking_off(client):
    owner = UserFactory()
    data_of(CREATE, {"input": mailing_input(owner)}, user=owner)
    mailing = Mailing.objects.get(owner=owner)
    client.force_login(owner)
    form = client.get(reverse("mailings:edit", args=[mailing.pk])).context["form"]
    data = {
        "message": mailing.message_id,
        "audience": mailing.audience,
        "tag_match": mailing.tag_match,
        "start_at": form["start_at"].value(),
        "end_at": form["end_at"].value(),
        "periodicity": mailing.periodicity,
        "tracking_shown": "1",  # the box was shown and left unticked: no "tracking" in the data
    }
    response = client.post(reverse("mailings:edit", args=[mailing.pk]), data)
    assert response.status_code == 302
    mailing.refresh_from_db()
    assert mailing.tracking is False
