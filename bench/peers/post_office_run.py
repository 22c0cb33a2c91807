"""One django-post_office run for `bench/send_throughput.py --peers`; not meant to be run by hand.

In its own process with bench/peers/settings.py: migrates and empties post_office's tables in the throw-away
database, queues N personalised messages of about 1 KB with `mail.send_many` (post_office's bulk enqueue),
then times `send_queued_mail_until_done` (what `manage.py send_queued_mail --processes P` runs)
until the queue is empty.
Prints one JSON line: sent, failed, logged attempts, queueing and sending seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.send_throughput import BODY


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.peers.settings"

    import django

    django.setup()
    from django.core.management import call_command
    from post_office import mail
    from post_office.mail import send_queued_mail_until_done
    from post_office.models import STATUS, Email, Log

    call_command("migrate", verbosity=0)
    Log.objects.all().delete()
    Email.objects.all().delete()

    started = time.perf_counter()
    mail.send_many(
        [
            {
                "sender": "bench@example.com",
                "recipients": [f"peer{n}@example.org"],
                "subject": f"Autumn news for Reader {n}",
                "message": BODY.format(full_name=f"Reader {n}"),
            }
            for n in range(args.messages)
        ]
    )
    queued = time.perf_counter()
    from django.db import connection

    if connection.vendor == "postgresql":  # as for the engine (send_throughput.py's `tidy`), untimed
        with connection.cursor() as cursor:
            for model in (Email, Log):
                cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    sending = time.perf_counter()
    with tempfile.TemporaryDirectory() as lock_dir:
        send_queued_mail_until_done(str(Path(lock_dir) / "post_office"), args.processes, None)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "sent": Email.objects.filter(status=STATUS.sent).count(),
                "failed": Email.objects.filter(status=STATUS.failed).count(),
                "logged": Log.objects.count(),
                "queueing_s": queued - started,
                "sending_s": done - sending,
            }
        )
    )


if __name__ == "__main__":
    main()
