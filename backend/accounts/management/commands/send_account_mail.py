"""One pass over the account-email outbox: what the scheduler does every tick, for operators
and tests."""

from django.core.management.base import BaseCommand

from backend.accounts.outbox import send_account_mail


class Command(BaseCommand):
    help = (
        "Send the due account emails (sign-up links, password resets) once; the scheduler does this every "
        "MAILER_TICK_SECONDS."
    )

    def handle(self, *args, **options):
        summary = send_account_mail()
        # Exit 0 even when the mail server is down: the rows stay and are retried.
        self.stdout.write(str(summary))
