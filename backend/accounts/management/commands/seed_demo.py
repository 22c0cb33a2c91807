"""Create (or reset) the demo account that `make run` prints."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create the demo account (DEMO_EMAIL / DEMO_PASSWORD) if it does not exist; re-runnable."

    def handle(self, *args, **options):
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
        self._demo_mailing(user)
        self.stdout.write(self.style.SUCCESS(f"Demo login: {email} / {password}"))

    def _demo_mailing(self, user) -> None:
        """A first weekly mailing for the demo account, so the pages have something to show."""
        import datetime as dt

        from django.utils import timezone

        from backend.mailings import services

        if user.mailings.exists() or user.is_blocked:
            return
        from backend.mailings.models import Client

        clients = []
        for email, name in (
            ("anna.petrova@example.org", "Анна Петрова"),
            ("john.smith@example.org", "John Smith"),
            ("maria.garcia@example.org", "María García"),
        ):
            existing = Client.objects.filter(owner=user, email__iexact=email).first()
            clients.append(
                existing or services.client_create(actor=user, data={"email": email, "full_name": name})
            )
        message = services.message_create(
            actor=user,
            data={
                "subject": "News for you, {first_name}",
                "body": "Hello {full_name},\n\nHere is what is new this week.\n\nThe demo team",
            },
        )
        start = (timezone.localtime() + dt.timedelta(days=1)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        services.mailing_create(
            actor=user,
            data={
                "message": message.pk,
                "clients": [client.pk for client in clients],
                "start_at": start.strftime("%Y-%m-%dT%H:%M"),
                "end_at": (start + dt.timedelta(days=90)).strftime("%Y-%m-%dT%H:%M"),
                "periodicity": "weekly",
            },
        )
        self.stdout.write(
            "Created a demo weekly mailing to 3 example.org clients (first send tomorrow 09:00)."
        )
