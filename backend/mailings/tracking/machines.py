"""Which opens and clicks a machine made (R-ENG-2), so the report counts people.

Two signs, either one enough:

- the user agent of a known mail privacy proxy, image proxy or link scanner (Google's and Yahoo's image
  proxies, Apple Mail Privacy Protection's bare "Mozilla/5.0", Microsoft's and the security gateways'
  scanners, link previewers and plain HTTP libraries);
- speed: an open within `OPEN_SECONDS`, or a click within `CLICK_SECONDS`, of the moment the message was
  handed to the mail server; no person reads a message that fast, a proxy fetching on arrival does.

Machine events are kept (they show that the message arrived) and counted apart; they never set a client's
"last opened" or "last clicked".
"""

from __future__ import annotations

import datetime as dt
import re

OPEN_SECONDS = 2.0
CLICK_SECONDS = 1.0

# Gmail's and Yahoo's image proxies (GoogleImageProxy, YahooMailProxy) fetch when the reader opens the
# message, and Outlook for Windows says "MSOffice": people, not machines. "bot" only as a word or a product
# name ("Googlebot/2.1"), not inside one ("CUBOT" is an Android phone).
_AGENTS = re.compile(
    r"Yahoo! Slurp|Barracuda|Proofpoint|Mimecast|"
    r"Microsoft Office Protocol Discovery|Office365|Outlook-iOS-Android-Proxy|SafeLinks|BingPreview|"
    r"Symantec|Forcepoint|Trend ?Micro|Sophos|FireEye|Cisco|IronPort|ZScaler|Fortinet|Avanan|Abnormal|"
    r"Cloudmark|SpamTitan|Trustwave|Hornet|Libra Esva|facebookexternalhit|Slackbot|Twitterbot|"
    r"\bbot\b|bot/|crawler|spider|python-requests|python-urllib|curl/|Wget|Go-http-client|okhttp|Java/|"
    r"HeadlessChrome|PhantomJS",
    re.IGNORECASE,
)
# Apple Mail Privacy Protection fetches through proxies that send only this.
_BARE = {"", "mozilla/5.0"}


def machine_agent(user_agent: str) -> bool:
    agent = user_agent.strip()
    return agent.lower() in _BARE or bool(_AGENTS.search(agent))


def is_machine(kind: str, user_agent: str, at: dt.datetime, sent_at: dt.datetime | None) -> bool:
    """Whether an event of `kind` ("open" or "click") looks like a machine's."""
    if machine_agent(user_agent):
        return True
    if sent_at is None:
        return False
    limit = OPEN_SECONDS if kind == "open" else CLICK_SECONDS
    return (at - sent_at).total_seconds() < limit
