"""Read bounces and complaints back (R-DLV-3, R-DLV-4; docs/bounces.md).

- `runbounces --stdin [--recipient ADDRESS]`: one raw mail from standard input, for an MTA's pipe transport
  (Postfix: `argv=python manage.py runbounces --stdin --recipient ${original_recipient}`). Exit 0 once it is
  stored (also when it was not understood: it is kept for a person to read); 75 (EX_TEMPFAIL) when it could
  not be stored, so the MTA keeps it and tries again.
- `runbounces` runs what the settings configure: the inbound SMTP endpoint on BOUNCE_SMTP_LISTEN, and the
  IMAP polling when BOUNCE_IMAP_HOST is set; `--smtp [HOST:PORT]` and `--imap` choose one or both;
  `--once` polls the mailbox once and exits. SIGTERM or Ctrl+C stops it: the endpoint stops taking mail,
  a poll stops after the mail in hand.
"""

import logging
import signal
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backend.mailings.bounces.readers import parse_listen, poll_imap, smtp_endpoint, stored
from backend.mailings.models import Bounce

logger = logging.getLogger(__name__)

EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = (
        "Read bounces and complaints: one mail from standard input, an inbound SMTP endpoint, IMAP polling."
    )
    # call_command(..., input_stream=<binary stream>) in tests; the MTA's pipe otherwise.
    stealth_options = ("input_stream",)

    def add_arguments(self, parser):
        parser.add_argument(
            "--stdin", action="store_true", help="Store one raw mail read from standard input."
        )
        parser.add_argument(
            "--recipient",
            action="append",
            default=[],
            help="With --stdin: the envelope recipient the MTA delivered it to (repeatable).",
        )
        parser.add_argument(
            "--smtp",
            nargs="?",
            const="",
            default=None,
            metavar="HOST:PORT",
            help="Run the inbound SMTP endpoint (default address: BOUNCE_SMTP_LISTEN).",
        )
        parser.add_argument("--imap", action="store_true", help="Poll the IMAP mailbox (BOUNCE_IMAP_*).")
        parser.add_argument("--once", action="store_true", help="With --imap: poll once, then exit.")

    def handle(self, *args, **options):
        if options["stdin"]:
            return self.from_stdin(options.get("input_stream") or sys.stdin.buffer, options["recipient"])
        run_smtp = options["smtp"] is not None
        run_imap = options["imap"]
        if not run_smtp and not run_imap:
            run_smtp = bool(settings.BOUNCE_SMTP_LISTEN)
            run_imap = bool(settings.BOUNCE_IMAP_HOST)
        if run_imap and not settings.BOUNCE_IMAP_HOST:
            raise CommandError("--imap needs BOUNCE_IMAP_HOST (and BOUNCE_IMAP_USER, BOUNCE_IMAP_PASSWORD).")
        listen = options["smtp"] or settings.BOUNCE_SMTP_LISTEN
        if run_smtp and not listen:
            raise CommandError("--smtp needs HOST:PORT or BOUNCE_SMTP_LISTEN.")
        if run_imap and options["once"] and not run_smtp:
            count, left = poll_imap()
            self.stdout.write(f"IMAP: {count} stored, {left} left for the next poll.")
            return None
        return self.serve(listen if run_smtp else "", run_imap)

    def from_stdin(self, stream, recipients: list[str]) -> None:
        try:
            raw = stream.read()
            bounce = stored(raw, source=Bounce.Source.STDIN, envelope_to=recipients or None)
        except Exception as exc:
            logger.exception("bounces: the mail from standard input could not be stored")
            raise CommandError(
                f"Not stored ({type(exc).__name__}); the MTA should try again.", returncode=EX_TEMPFAIL
            ) from exc
        self.stdout.write(f"Stored: bounce {bounce.pk} ({bounce.kind}).")
        return None

    def serve(self, listen: str, run_imap: bool) -> None:
        stop = threading.Event()

        def on_signal(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if not settings.BOUNCE_DOMAIN and listen:
            # Every RCPT would be refused: nothing goes out with a return path of ours to come back here.
            self.stderr.write(
                "BOUNCE_DOMAIN is unset: no SMTP endpoint (no mail carries a return path of ours)."
            )
            listen = ""
        endpoint = None
        if listen:
            try:
                host, port = parse_listen(listen)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            endpoint = smtp_endpoint(host, port)
            endpoint.start()
            self.stdout.write(
                f"Bounces: SMTP endpoint for {settings.BOUNCE_DOMAIN or '(none)'} on {host}:{port}."
            )
        poller = None
        if run_imap:
            poller = threading.Thread(target=self.poll_forever, args=(stop,), name="imap", daemon=True)
            poller.start()
            self.stdout.write(
                f"Bounces: polling {settings.BOUNCE_IMAP_HOST} every {settings.BOUNCE_IMAP_POLL_SECONDS} s."
            )
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            if endpoint is not None:
                endpoint.stop()
            if poller is not None:
                poller.join(timeout=30)
        self.stdout.write("Bounces: stopped.")

    def poll_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                count, left = poll_imap(stop)
                if count or left:
                    logger.info("bounces: IMAP %d stored, %d left for the next poll", count, left)
            except Exception:
                logger.exception("bounces: polling the IMAP mailbox failed")
            stop.wait(settings.BOUNCE_IMAP_POLL_SECONDS)
