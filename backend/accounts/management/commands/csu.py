"""Create or update the superuser from CSU_EMAIL / CSU_PASSWORD (R-AUTH-7)."""

import os

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction


class Command(BaseCommand):
    help = "Create the superuser, or update its password, from CSU_EMAIL and CSU_PASSWORD."

    def add_arguments(self, parser):
        parser.add_argument("--email", help="defaults to $CSU_EMAIL")
        parser.add_argument("--password", help="defaults to $CSU_PASSWORD")
        parser.add_argument(
            "--if-set", action="store_true", help="do nothing (exit 0) when neither value is given"
        )

    def handle(self, *args, email=None, password=None, if_set=False, **options):
        email = (email or os.environ.get("CSU_EMAIL", "")).strip()
        password = password or os.environ.get("CSU_PASSWORD", "")
        if if_set and not email and not password:
            return
        missing = [name for name, value in (("CSU_EMAIL", email), ("CSU_PASSWORD", password)) if not value]
        if missing:
            raise CommandError(
                f"{' and '.join(missing)} not set: pass --email/--password or set the variables."
            )
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"{email!r} is not a valid email address.") from exc

        User = get_user_model()
        with transaction.atomic():
            user = User.objects.filter(email__iexact=User.objects.normalize_email(email)).first()
            created = user is None
            if created:
                user = User(email=email)
            user.is_staff = user.is_superuser = user.is_active = user.email_verified = True
            user.is_blocked = False
            user.set_password(password)
            user.save()
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} superuser {user.email}."))
