"""One sending pass over everything due (R-SEND-6)."""

from django.core.management.base import BaseCommand

from backend.mailings.sending import send_due


class Command(BaseCommand):
    help = "Start every due occurrence and send every pending delivery and due retry, once."

    def handle(self, *args, **options):
        summary = send_due()
        # Exit 0 even when the SMTP server is down: the retries and the breaker are recorded.
        self.stdout.write(str(summary))
