# ruff: noqa: RUF001 - the Cyrillic names are real data, not look-alike letters.
"""Create (or refresh) the demo account that `make run` prints, with a lived-in list: about 50
clients, three messages, mailings in every status and periodicity, and a history of sends with accepted,
refused (550) and retried (451, then 250) deliveries, so that a newcomer's first report and chart have
something to show.

Re-runnable: the account's password is reset, clients are imported through the import service (an address
already there is left as it is), messages are found by subject, and each demo mailing is identified by its
message and periodicity, so a second run adds nothing and a demo mailing deleted by hand comes back.
Mailings that start in the future are created through `services.mailing_create`; those with a past are
written with the models directly (no service creates a history: the form refuses a start and an end in the
past), keeping the invariants a real send leaves: one delivery per occurrence and client, statuses that
match the attempt log, finished occurrences, and the next due time and status from `scheduling.reschedule`.

It refuses to run with DEBUG off unless given `--force`: it makes an owner and a manager whose
password is printed in the README, which a production site must not have by accident.
"""

import datetime as dt
import random
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from backend.mailings import schedule, scheduling, selectors, services
from backend.mailings.csv_io import ClientRow
from backend.mailings.models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence, Tag

# Whole names, so that a first name never meets a surname from another language or of the other gender.
FULL_NAMES = (
    "Анна Петрова", "Борис Смирнов", "Вера Иванова", "Глеб Кузнецов", "Дарья Попова", "Егор Соколов",
    "Жанна Лебедева", "Захар Козлов", "Ирина Новикова", "Кирилл Морозов", "Лидия Волкова", "Максим Зайцев",
    "Нина Павлова", "Олег Семёнов", "Полина Голубева", "Роман Виноградов", "Светлана Богданова",
    "Тимур Воробьёв", "Ульяна Фёдорова", "Фёдор Михайлов", "Alice Smith", "Ben Jones", "Chloe Taylor",
    "David Brown", "Emma Wilson", "Felix Evans", "Grace Thomas", "Henry Roberts", "Isla Walker",
    "Jack Wright", "Kate Green", "Liam Hall", "Mia Wood", "Noah Clarke", "Olivia Hughes", "Peter Lewis",
    "Quinn Baker", "Ruby Hill", "Sam Moore", "Tara King", "María García", "José Martínez",
    "Lucía Fernández", "Mateo López", "Sofía Ruiz", "Zoë Müller", "Björn Larsen",
)  # fmt: skip
CLIENT_COUNT = 50
# Every demo address is in the reserved `.invalid` top-level domain (RFC 2606, RFC 6761), which never
# receives mail: the engine skips such an address before SMTP (`sending.queue.never_receives`), so the demo's
# daily and monthly mailings log "skipped" and send nothing, also once EMAIL_HOST points at a real server.
DEMO_DOMAIN = "demo.invalid"
# Addresses the demo's mail server refused for good, and ones it greylisted before accepting.
BOUNCING = frozenset({"old.mailbox@gone.invalid", "typo@exmaple.invalid", "left.company@demo.invalid"})
GREYLISTED = frozenset({f"client07@{DEMO_DOMAIN}", f"client19@{DEMO_DOMAIN}", f"client33@{DEMO_DOMAIN}"})
UNSUBSCRIBED = f"client42@{DEMO_DOMAIN}"

MESSAGES = {
    "news": (
        "News for you, {first_name}",
        "Hello {full_name},\n\nHere is what is new this week.\n\nThe demo team",
    ),
    "digest": (
        "Your monthly digest",
        "Hello {full_name},\n\nthe month in three lines: new features, fixed bugs, and what comes next.\n\n"
        "The demo team",
    ),
    "sale": (
        "Spring sale starts today, {first_name}",
        "Dear {full_name},\n\neverything in the shop is 20% off until Sunday.\n\nThe demo team",
    ),
}


@dataclass(frozen=True)
class DemoMailing:
    message: str  # a key of MESSAGES
    periodicity: str
    start_days: float  # from today's 09:00 in the owner's time zone; negative is the past
    end_days: float
    clients: int  # the first N demo clients
    audience: str = "clients"  # a future mailing may go to everyone or to the "VIP" tag instead
    tag: str = ""
    name: str = ""  # what the lists show (R-OWN-2); the subject holds placeholders


# The demo list's tags: "Newsletter" on the first 30 clients, "VIP" on every seventh.
TAGS = {"Newsletter": lambda index: index < 30, "VIP": lambda index: index % 7 == 0}

MAILINGS = (
    DemoMailing(
        "news", "weekly", start_days=1, end_days=91, clients=3, audience="tags", tag="VIP", name="VIP weekly"
    ),  # created
    DemoMailing(
        "digest",
        "once",
        start_days=3,
        end_days=4,
        clients=CLIENT_COUNT,
        audience="everyone",
        name="Digest for everyone",
    ),
    DemoMailing("news", "daily", start_days=-5, end_days=25, clients=30, name="Daily news"),  # started
    DemoMailing(
        "digest", "monthly", start_days=-62, end_days=300, clients=CLIENT_COUNT, name="Monthly digest"
    ),  # started
    DemoMailing(
        "sale", "once", start_days=-10, end_days=-9, clients=CLIENT_COUNT, name="Spring sale"
    ),  # completed
    DemoMailing(
        "sale", "weekly", start_days=-42, end_days=-13, clients=20, name="Spring sale reminders"
    ),  # completed
)


def demo_clients() -> list[ClientRow]:
    rows = []
    for n in range(CLIENT_COUNT - len(BOUNCING)):
        full_name = FULL_NAMES[n % len(FULL_NAMES)]
        rows.append(ClientRow(line=n + 1, email=f"client{n:02d}@{DEMO_DOMAIN}", full_name=full_name))
    for n, email in enumerate(sorted(BOUNCING), start=len(rows) + 1):
        rows.append(ClientRow(line=n, email=email, full_name=email.split("@")[0].replace(".", " ").title()))
    return rows


class Command(BaseCommand):
    help = (
        "Create the demo account (DEMO_EMAIL / DEMO_PASSWORD) with clients, messages, mailings and a "
        "history of sends; re-runnable."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run with DEBUG off too (a throwaway site, a benchmark): the demo passwords are public.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off: seed_demo would add a demo owner and a manager whose password is in the "
                "README to what looks like a production site. Run it with DEBUG=1 (make run writes that to "
                ".env), or pass --force on a throwaway site."
            )
        User = get_user_model()
        email, password = settings.DEMO_EMAIL, settings.DEMO_PASSWORD
        with transaction.atomic():
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                user = User.objects.create_user(email, password, first_name="Demo", email_verified=True)
                self.stdout.write(f"Created demo account {user.email}.")
            else:
                # Keep the printed password true even if someone changed it in a previous run.
                user.set_password(password)
                user.is_active = user.email_verified = True
                user.save()
        if not user.is_blocked:
            self._fill(user)
        manager = self._manager(User, settings.DEMO_MANAGER_EMAIL, password)
        self.stdout.write(self.style.SUCCESS(f"Demo login: {email} / {password}"))
        if manager is not None:
            self.stdout.write(self.style.SUCCESS(f"Demo manager (/manager/): {manager.email} / {password}"))

    def _manager(self, User, email: str, password: str):
        """A member of the Managers group, so a newcomer can open the manager dashboard at once.
        DEMO_MANAGER_EMAIL empty: none."""
        if not email:
            return None
        with transaction.atomic():
            manager = User.objects.filter(email__iexact=email).first()
            if manager is None:
                manager = User.objects.create_user(
                    email, password, first_name="Demo manager", email_verified=True
                )
            else:
                manager.set_password(password)
                manager.is_active = manager.email_verified = True
                manager.save()
            manager.groups.add(Group.objects.get(name="Managers"))
        return manager

    def _fill(self, user) -> None:
        report = services.clients_import(actor=user, rows=demo_clients())
        left = selectors.clients_for(user).filter(email=UNSUBSCRIBED).first()
        if left is not None:
            services.client_unsubscribe(client=left)
        mine = selectors.clients_for(user).order_by("email")
        regular = [client for client in mine if client.email not in BOUNCING]
        tags = self._tags(user, regular)
        bouncing = [client for client in mine if client.email in BOUNCING]
        messages = {key: self._message(user, *text) for key, text in MESSAGES.items()}
        made = []
        for spec in MAILINGS:
            message = messages[spec.message]
            if (
                selectors.mailings_for(user)
                .filter(owner=user, message=message, periodicity=spec.periodicity)
                .exists()
            ):
                continue
            # Sends with a history include the addresses that bounce, so reports show failures.
            chosen = regular[: spec.clients]
            if spec.start_days < 0:
                chosen = regular[: spec.clients - len(bouncing)] + bouncing
            mailing = self._mailing(user, spec, message, chosen, tags)
            made.append(f"{spec.periodicity} “{message.subject}” ({mailing.status})")
        self.stdout.write(
            f"Demo clients: {report.added} added; mailings created: {', '.join(made) if made else 'none'}."
        )

    @staticmethod
    def _tags(user, regular: list[Client]) -> dict[str, Tag]:
        tags = {}
        for name, carries in TAGS.items():
            tag = selectors.tags_for(user).filter(name=name).first()
            tags[name] = tag or services.tag_create(actor=user, data={"name": name})
            chosen = [client.pk for index, client in enumerate(regular) if carries(index)]
            services.clients_tag(actor=user, tag=tags[name], clients=Client.objects.filter(pk__in=chosen))
        return tags

    @staticmethod
    def _message(user, subject: str, body: str) -> Message:
        found = selectors.messages_for(user).filter(subject=subject).first()
        return found or services.message_create(actor=user, data={"subject": subject, "body": body})

    def _mailing(
        self, user, spec: DemoMailing, message: Message, clients: list[Client], tags: dict[str, Tag]
    ) -> Mailing:
        nine = timezone.localtime(timezone.now(), user.tz).replace(hour=9, minute=0, second=0, microsecond=0)
        start = nine + dt.timedelta(days=spec.start_days)
        end = nine + dt.timedelta(days=spec.end_days)
        if start > timezone.now():
            return services.mailing_create(
                actor=user,
                data={
                    "name": spec.name,
                    "message": message.pk,
                    "audience": spec.audience,
                    "tags": [tags[spec.tag].pk] if spec.tag else [],
                    "clients": [client.pk for client in clients],
                    "start_at": start.strftime("%Y-%m-%dT%H:%M"),
                    "end_at": end.strftime("%Y-%m-%dT%H:%M"),
                    "periodicity": spec.periodicity,
                },
            )
        with transaction.atomic():
            mailing = Mailing.objects.create(
                owner=user,
                name=spec.name,
                message=message,
                start_at=start,
                end_at=end,
                periodicity=spec.periodicity,
                time_zone=user.time_zone,
                status=Mailing.Status.STARTED,
            )
            mailing.clients.set(clients)
            # Seeded by the mailing's shape, so every run tells the same story.
            rng = random.Random(f"{spec.message}-{spec.periodicity}")  # noqa: S311 - demo data, not secrets
            now = timezone.now()
            recipients = list(selectors.recipients_of(mailing))
            for moment in schedule.occurrences(start, end, spec.periodicity, mailing.tz):
                if moment > now:
                    break
                self._history(mailing, moment, recipients, rng)
            scheduling.reschedule(mailing)
        return mailing

    @staticmethod
    def _history(mailing: Mailing, moment: dt.datetime, recipients: list[Client], rng: random.Random) -> None:
        """One finished occurrence as the engine leaves it: every recipient sent, refused with 550, or
        greylisted with 451 and accepted on the retry five minutes later."""
        occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=moment)
        deliveries, attempts = [], []
        at = moment
        for client in recipients:
            at += dt.timedelta(milliseconds=rng.randint(300, 900))
            delivery = Delivery(mailing=mailing, occurrence=occurrence, client=client, email=client.email)
            tries: list[tuple[dt.datetime, str, int, str]] = []
            if client.email in BOUNCING:
                text = f"5.1.1 <{client.email}>: Recipient address rejected: User unknown in virtual mailbox"
                tries.append((at, DeliveryAttempt.Outcome.PERMANENT, 550, text))
                delivery.status = Delivery.Status.FAILED
            else:
                if client.email in GREYLISTED and rng.random() < 0.7:
                    greylisted = "4.7.1 Greylisted, please try again later"
                    tries.append((at, DeliveryAttempt.Outcome.TEMPORARY, 451, greylisted))
                    at_sent = at + dt.timedelta(minutes=5)
                else:
                    at_sent = at
                queued = f"2.0.0 Ok: queued as {rng.randrange(16**10):010X}"
                tries.append((at_sent, DeliveryAttempt.Outcome.SENT, 250, queued))
                delivery.status = Delivery.Status.SENT
                delivery.sent_at = at_sent
            last_at, _outcome, code, text = tries[-1]
            delivery.attempts = len(tries)
            delivery.last_attempt_at = last_at
            delivery.last_response = f"{code} {text}"
            deliveries.append(delivery)
            attempts.append(tries)
        Delivery.objects.bulk_create(deliveries)
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                delivery=delivery, attempted_at=when, outcome=outcome, smtp_code=code, response=text
            )
            for delivery, tries in zip(deliveries, attempts, strict=True)
            for when, outcome, code, text in tries
        )
        finished_at = max((delivery.last_attempt_at for delivery in deliveries), default=moment)
        Occurrence.objects.filter(pk=occurrence.pk).update(
            finished_at=finished_at, **scheduling.final_totals()
        )
