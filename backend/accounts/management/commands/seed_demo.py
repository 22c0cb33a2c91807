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
        self.stdout.write(self.style.SUCCESS(f"Demo login: {email} / {password}"))
