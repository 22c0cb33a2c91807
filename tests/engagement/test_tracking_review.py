"""Found in review (R-ENG-2, R-ENG-3): a token with non-ASCII characters is a 404, not a 500; people's
opens through Gmail's proxy, Outlook or an Android phone are people's; a tab or line break in an href is
dropped as browsers drop it; a test send's preferences link says it is a test link."""

import pytest

from backend.mailings import unsubscribe
from backend.mailings.tracking.machines import machine_agent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/t/o/1-%C3%A9%C3%A9.gif", "/t/c/1-2-%C3%A9/", "/t/o/%F0%9F%98%80.gif"])
def test_a_token_with_non_ascii_characters_is_a_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert not response.cookies


@pytest.mark.parametrize(
    ("agent", "machine"),
    [
        ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", False),
        (
            "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5095) ms-office; MSOffice 16)",
            False,
        ),
        (
            "Mozilla/5.0 (Linux; Android 12; CUBOT KINGKONG 7) AppleWebKit/537.36 Chrome/120.0 Mobile Safari",
            False,
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
        ("Mozilla/5.0", True),
        ("python-requests/2.32", True),
    ],
)
def test_people_behind_image_proxies_and_outlook_are_people(agent, machine):
    assert machine_agent(agent) is machine


def test_a_test_sends_preferences_link_says_it_is_a_test_link(client):
    _unsubscribe, preferences = unsubscribe.UnsubscribeLinks().links(unsubscribe.test_send_token())
    response = client.get(preferences.split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert response.status_code == 200
    assert "This is a test email's link" in response.content.decode()
