"""PostgreSQL restarted in the middle of a sending pass (R-SEND-5, R-SEND-7).

A real scheduler process sends a mailing through a loopback SMTP server to a throw-away PostgreSQL cluster of
this test's own (initdb / pg_ctl, run as the `postgres` user when the suite runs as root, as `.ci/run` does);
the cluster is restarted (`pg_ctl restart -m fast`) while the pass is sending. Then: the broken pass ends
with one clear line and no traceback from the engine; a later tick connects again and finishes the mailing;
every recipient got the message, each delivery has one recorded send, and the only messages sent twice are
those in flight at the restart (at most one per worker: the crash rule of R-SEND-7).

PostgreSQL only: with SQLite as the suite's database it is skipped, as it is where the PostgreSQL server
programs are not installed.
"""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from tests.fakes.smtp import FakeSMTPServer
from tests.helpers import clean_env, run_manage, start_manage, wait_for

pytestmark = pytest.mark.slow

RECIPIENTS = 900
WORKERS = 4
SEED = """
import datetime as dt
from django.utils import timezone
from backend.accounts.models import User
from backend.mailings.models import Client, Mailing, Message
owner = User.objects.create_user(email="owner@example.com", password="a-long-pass-2026", email_verified=True)
message = Message.objects.create(owner=owner, subject="Hello {first_name}", body="Dear {full_name}, news.")
clients = Client.objects.bulk_create(
    Client(owner=owner, email=f"r{n}@example.org", full_name=f"Reader {n}") for n in range(%d)
)
now = timezone.now()
mailing = Mailing.objects.create(
    owner=owner, message=message, periodicity="once", time_zone="UTC", start_at=now - dt.timedelta(minutes=1),
    end_at=now + dt.timedelta(days=1), next_run_at=now - dt.timedelta(minutes=1),
)
mailing.clients.set(clients)
"""


def postgres_programs() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivateCluster:
    """A PostgreSQL cluster in a temporary folder, on a free loopback port, trusting local connections."""

    def __init__(self, programs: Path):
        self.programs = programs
        self.folder = Path(tempfile.mkdtemp(prefix="mailer-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "log"  # also keeps the server off pg_ctl's output, which the test reads
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/mailer"
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.folder, user="postgres")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.programs / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (command, done.stdout, done.stderr)

    def _options(self) -> str:
        # No fsync: a restart with -m fast is a clean shutdown, which writes everything committed anyway.
        return f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"

    def create(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-w",
            "-o",
            self._options(),
            "start",
        )
        self.sql("CREATE DATABASE mailer", database="postgres")

    def restart(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-m",
            "fast",
            "-o",
            self._options(),
            "restart",
        )

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def sql(self, statement: str, database: str = "mailer") -> list[tuple]:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()


@pytest.fixture
def cluster():
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip(
            "PostgreSQL only (set DATABASE_URL=postgres://...): restarts a private PostgreSQL cluster"
        )
    programs = postgres_programs()
    if programs is None:
        pytest.skip(
            "the PostgreSQL server programs (initdb, pg_ctl) are not installed under /usr/lib/postgresql"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb cannot be started as the postgres user")
    private = PrivateCluster(programs)
    try:
        private.create()
        yield private
    finally:
        private.destroy()


def tracebacks(log: str) -> list[str]:
    """Each traceback block of a log: from "Traceback" to the next line that starts a log record."""
    return re.findall(r"Traceback \(most recent call last\):\n.*?(?=^\d{4}-\d\d-\d\d |\Z)", log, re.S | re.M)


def test_postgresql_restarted_mid_pass_ends_the_pass_with_one_line_and_the_next_tick_carries_on(cluster):
    """R-SEND-7: see the module's docstring."""
    migrated = run_manage("migrate", "-v0", timeout=300, DEBUG="1", DATABASE_URL=cluster.url)
    assert migrated.returncode == 0, migrated.stderr
    seeded = run_manage("shell", "-c", SEED % RECIPIENTS, DEBUG="1", DATABASE_URL=cluster.url)
    assert seeded.returncode == 0, seeded.stderr

    with FakeSMTPServer() as smtp:
        env = clean_env(
            DEBUG="1",
            DATABASE_URL=cluster.url,
            EMAIL_HOST=smtp.host,
            EMAIL_PORT=str(smtp.port),
            EMAIL_TIMEOUT="5",
            LOG_LEVEL="INFO",
            MAILER_TICK_SECONDS="1",
            MAILER_SEND_WORKERS=str(WORKERS),
            MAILER_CLAIM_BATCH="20",
            # Slow enough that the restart lands mid-pass; short leases so the broken pass's come back soon.
            MAILER_RATE_LIMIT="150",
            MAILER_CLAIM_LEASE_SECONDS="3",
            # The seeded owner is a new account: its daily quota (R-DLV-5) would hold back most of the send.
            SEND_QUOTA_DAILY="0",
            SEND_QUOTA_NEW_ACCOUNT_DAILY="0",
        )
        scheduler = start_manage("runapscheduler", env=env)
        try:
            assert wait_for(lambda: len(smtp.received) >= RECIPIENTS // 6, timeout=60), (
                "sending never started"
            )
            cluster.restart()
            at_restart = len(smtp.received)

            def all_sent() -> bool:
                try:
                    return cluster.sql("SELECT count(*) FROM mailings_delivery WHERE status = 'sent'")[0][
                        0
                    ] == (RECIPIENTS)
                except Exception:  # the cluster is still coming back
                    return False

            finished = wait_for(all_sent, timeout=120, interval=0.5)
            completed = wait_for(
                lambda: cluster.sql("SELECT status FROM mailings_mailing")[0][0] == "completed", timeout=30
            )
        finally:
            scheduler.send_signal(signal.SIGTERM)
            out, err = scheduler.communicate(timeout=60)
        received = smtp.recipients()

    log = out + err
    assert finished and completed, log[-4000:]
    assert at_restart < RECIPIENTS, "the restart came after the pass had sent everything"

    # Nothing lost, nothing doubled beyond the crash rule.
    emails = {f"r{n}@example.org" for n in range(RECIPIENTS)}
    assert set(received) == emails
    doubled = sum(count - 1 for count in Counter(received).values())
    assert doubled <= WORKERS, f"{doubled} messages sent twice; at most one per worker was in flight"
    per_delivery = cluster.sql(
        "SELECT d.id, count(a.id) FROM mailings_delivery d LEFT JOIN mailings_deliveryattempt a "
        "ON a.delivery_id = d.id AND a.outcome = 'sent' GROUP BY d.id"
    )
    assert len(per_delivery) == RECIPIENTS and {count for _, count in per_delivery} == {1}

    # The broken pass: one line that says what happened; then passes that send again, and no engine traceback.
    passes = [line for line in log.splitlines() if "send pass:" in line]
    broken = [line for line in passes if "the database went away" in line]
    assert len(broken) == 1, passes
    assert "stopped, the next pass carries on" in broken[0] and "(see the log)" not in broken[0]
    after = passes[passes.index(broken[0]) + 1 :]
    assert sum(int(re.search(r"sent: (\d+)", line).group(1)) for line in after) > 0, passes
    assert any("mailings completed: 1" in line for line in after), passes
    # No traceback at all: neither from our code nor from APScheduler's listener recording the job's run
    # (runapscheduler.JobStore turns a run it cannot record into one warning line).
    assert tracebacks(log) == [], tracebacks(log)[0][-3000:] if tracebacks(log) else ""
