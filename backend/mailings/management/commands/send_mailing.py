"""Send one mailing now, as a manual occurrence (R-SEND-6)."""

from django.core.management.base import BaseCommand, CommandError

from backend.accounts.services import user_can_act
from backend.mailings.models import Mailing
from backend.mailings.sending import send_mailing_now


class Command(BaseCommand):
    help = "Send mailing ID now to its subscribed clients (a manual occurrence; the schedule is unchanged)."

    def add_arguments(self, parser):
        parser.add_argument("mailing_id", type=int, help="the mailing's id")
        parser.add_argument("--dry-run", action="store_true", help="show what would be sent; send nothing")

    def handle(self, *args, mailing_id: int, dry_run: bool = False, **options):
        mailing = Mailing.objects.select_related("owner", "message").filter(pk=mailing_id).first()
        if mailing is None:
            raise CommandError(f"No mailing with id {mailing_id}.")
        if not mailing.is_active:
            raise CommandError(f"Mailing {mailing_id} is disabled by a manager; enable it first.")
        if mailing.status == Mailing.Status.COMPLETED:
            raise CommandError(f"Mailing {mailing_id} is completed; move its end later to send it again.")
        if not user_can_act(mailing.owner):
            raise CommandError(f"The owner of mailing {mailing_id} is blocked or inactive.")
        recipients = mailing.clients.filter(unsubscribed_at__isnull=True)
        if dry_run:
            count = recipients.count()
            self.stdout.write(
                f"Dry run: mailing {mailing_id} ({mailing.message.subject!r}) would go to {count} client(s):"
            )
            for email in recipients.values_list("email", flat=True)[:20]:
                self.stdout.write(f"  {email}")
            if count > 20:
                self.stdout.write(f"  ... and {count - 20} more")
            return
        summary = send_mailing_now(mailing)
        self.stdout.write(str(summary))
