"""Opens and clicks as a report shows them (R-ENG-2): a selector over `EngagementEvent`.

`engagement_of(mailing, sent)` answers for a mailing the caller may see (the caller resolved it through an
owner-scoped selector) in three queries whatever the number of sends, events or links, each read through
the (mailing, kind, at) index: unique openers and clickers per send (people and machines apart), clicks
per link and send, and the first 48 hours per hour after each send's scheduled moment. A delivery belongs
to one send, so a mailing's unique counts are the sums of its sends'.

"Opened" counts deliveries with at least one open by a person; "opened by machines" deliveries with an open
a privacy proxy or scanner made (`machines`), whether or not a person opened them too. Clicks count people
only. The click-through rate is unique clickers over messages sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import Count, F, Func, IntegerField

from ..models import EngagementEvent, Mailing

CURVE_HOURS = 48


@dataclass
class LinkClicks:
    url: str
    clicks: int = 0
    clickers: int = 0


@dataclass
class Engagement:
    """One send's, or a whole mailing's, opens and clicks."""

    sent: int = 0
    opened: int = 0
    machine_opened: int = 0
    clicked: int = 0
    clicks: int = 0
    links: list[LinkClicks] = field(default_factory=list)
    open_curve: list[int] = field(default_factory=lambda: [0] * CURVE_HOURS)
    click_curve: list[int] = field(default_factory=lambda: [0] * CURVE_HOURS)

    @property
    def open_rate(self) -> float | None:
        return self.opened / self.sent if self.sent else None

    @property
    def click_rate(self) -> float | None:
        return self.clicked / self.sent if self.sent else None

    # For the page: percentages, None before anything was sent.
    @property
    def open_percent(self) -> float | None:
        return None if self.open_rate is None else 100 * self.open_rate

    @property
    def click_percent(self) -> float | None:
        return None if self.click_rate is None else 100 * self.click_rate


class _HoursAfter(Func):
    """Whole hours from the event's send's scheduled moment to the event (SQLite and PostgreSQL)."""

    output_field = IntegerField()

    def __init__(self):
        super().__init__(F("at"), F("occurrence__scheduled_for"))

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(((julianday(%(expressions)s)) * 24) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="FLOOR(EXTRACT(EPOCH FROM (%(expressions)s)) / 3600)::integer",
            arg_joiner=" - ",
            **extra,
        )


def engagement_of(mailing: Mailing, sent: Mapping[int, int]) -> tuple[Engagement, dict[int, Engagement]]:
    """The mailing's totals and each send's (by occurrence id; `sent` gives each send's messages sent)."""
    per_send: dict[int, Engagement] = defaultdict(Engagement)
    for occurrence_id, count in sent.items():
        per_send[occurrence_id].sent = count
    events = EngagementEvent.objects.filter(mailing_id=mailing.pk).order_by()

    counted = events.values("occurrence_id", "kind", "is_machine").annotate(
        deliveries=Count("delivery_id", distinct=True), events=Count("pk")
    )
    for row in counted:
        send = per_send[row["occurrence_id"]]
        if row["kind"] == EngagementEvent.Kind.OPEN:
            if row["is_machine"]:
                send.machine_opened += row["deliveries"]
            else:
                send.opened += row["deliveries"]
        elif not row["is_machine"]:
            send.clicked += row["deliveries"]
            send.clicks += row["events"]

    links = (
        events.filter(kind=EngagementEvent.Kind.CLICK, is_machine=False)
        .values("occurrence_id", "link_id", "link__url")
        .annotate(clicks=Count("pk"), clickers=Count("delivery_id", distinct=True))
    )
    totals_by_link: dict[int, LinkClicks] = {}
    for row in links:
        per_send[row["occurrence_id"]].links.append(
            LinkClicks(row["link__url"], row["clicks"], row["clickers"])
        )
        total = totals_by_link.setdefault(row["link_id"], LinkClicks(row["link__url"]))
        total.clicks += row["clicks"]
        total.clickers += row["clickers"]

    hours = _HoursAfter()
    curve = (
        events.filter(is_machine=False)
        .annotate(hour=hours)
        .filter(hour__gte=0, hour__lt=CURVE_HOURS)
        .values("occurrence_id", "kind", "hour")
        .annotate(events=Count("pk"))
    )
    for row in curve:
        send = per_send[row["occurrence_id"]]
        series = send.open_curve if row["kind"] == EngagementEvent.Kind.OPEN else send.click_curve
        series[row["hour"]] += row["events"]

    total = Engagement()
    for send in per_send.values():
        send.links.sort(key=lambda link: (-link.clicks, link.url))
        for name in ("sent", "opened", "machine_opened", "clicked", "clicks"):
            setattr(total, name, getattr(total, name) + getattr(send, name))
        for hour in range(CURVE_HOURS):
            total.open_curve[hour] += send.open_curve[hour]
            total.click_curve[hour] += send.click_curve[hour]
    total.links = sorted(totals_by_link.values(), key=lambda link: (-link.clicks, link.url))
    return total, dict(per_send)
