"""Send one mailing now, as a manual occurrence (R-SEND-6). The command parses arguments and prints; whether
the mailing may be sent, and to whom, is the domain's decision (`services.mailing_send_now`,
`selectors.recipients_of`)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from backend.mailings import selectors, services
from backend.mailings.models import Mailing
from backend.mailings.sending import send_occurrence

SHOWN = 20


class Command(BaseCommand):
    help = "Send mailing ID now to its subscribed clients (a manual occurrence; the schedule is unchanged)."

    def add_arguments(self, parser):
        parser.add_argument("mailing_id", type=int, help="the mailing's id")
        parser.add_argument("--dry-run", action="store_true", help="show what would be sent; send nothing")

    def handle(self, *args, mailing_id: int, dry_run: bool = False, **options):
        mailing = Mailing.objects.select_related("owner", "message").filter(pk=mailing_id).first()
        if mailing is None:
            raise CommandError(f"No mailing with id {mailing_id}.")
        try:
            if dry_run:
                services.mailing_check_send_now(actor=services.OPERATOR, mailing=mailing)
            else:
                occurrence = services.mailing_send_now(actor=services.OPERATOR, mailing=mailing)
        except (PermissionDenied, ValidationError) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(f"Mailing {mailing_id} cannot be sent: {text}") from exc
        if dry_run:
            recipients = selectors.recipients_of(mailing)
            count = recipients.count()
            self.stdout.write(
                f"Dry run: mailing {mailing_id} ({mailing.message.subject!r}) would go to {count} client(s):"
            )
            for email in recipients.values_list("email", flat=True)[:SHOWN]:
                self.stdout.write(f"  {email}")
            if count > SHOWN:
                self.stdout.write(f"  ... and {count - SHOWN} more")
            return
        summary = send_occurrence(occurrence)
        summary.occurrences, summary.queued = 1, occurrence.deliveries.count()
        self.stdout.write(str(summary))
