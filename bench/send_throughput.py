"""Sending throughput: the engine end to end against raw smtplib, on the same SMTP sink.

    python bench/send_throughput.py [--messages N] [--workers W] [--peers [--rounds R] [--peer-configs ...]]
                                    [--profile FILE]

Starts a counting SMTP sink (tests/fakes/smtp.py) in its own process, seeds one mailing with N clients
(default 5,000) in the database DATABASE_URL selects (default: a throw-away SQLite file var/bench.sqlite3),
then measures in the same run:
  (a) raw smtplib over one reused connection, N messages of about 1 KB: the practical limit of one
      connection to this sink;
  (b) `manage.py send_mailing ID` in a child process: occurrence, deliveries, sends and every attempt
      logged; its rate is N over the time from the occurrence's creation to its last logged attempt, and its
      peak RSS is the child's maximum resident set size.
It prints both rates, their ratio and the sender's peak RSS; the last line is machine-readable. It prints
figures and asserts nothing about time.

DKIM and PIPELINING (R-DLV-2, issue text §5), in the same sitting: the sink offers PIPELINING. Before the
rounds it times composing one message in this process, unsigned and signed with an RSA-2048 key, an
Ed25519 key and both (a sender domain's and the operator's): the signing cost per message; and it sends
--pipelining-messages messages over one SMTPConnection with EMAIL_PIPELINING on and off, printing the
round trips per message (the times the sender waited for the server) and the rate of each. Each round then
also runs the engine (b) with an operator key of each algorithm of --signing (default rsa,ed25519; none
to skip): DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE set for the child, a key made here.

With --peers (`pip install -r bench/requirements-peers.txt` first) it also runs
  (c) django-post_office, in a child process with bench/peers/settings.py and its own throw-away database
      on the same server (`<name>_peer`, created and dropped here), once per --peer-configs entry
      BATCHxTHREADSxPROCESSES (default: post_office's defaults 100x5x1, then 1000x8x1, 5000x5x2 and
      5000x5x3): N personalised messages queued with `send_many`, then `send_queued_mail_until_done` timed
      until the queue is empty (every attempt logged, post_office's default); its rate is N over that
      sending time;
and repeats raw, engine and every peer configuration interleaved for --rounds rounds (default 3), reporting
medians. peer_ratio is the engine's median over the best peer configuration's median.

With --profile FILE the sender runs under py-spy (bench/requirements-peers.txt), every thread sampled, its
collapsed stacks written to FILE (FILE.1, FILE.2, ... with several rounds), and with --profile-gil only the
thread holding the GIL; its CPU and RSS figures are then py-spy's, not the sender's.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.environment import production_mode  # noqa: E402

BODY = ("Hello {full_name},\n\n" + "This is the autumn newsletter with news you asked for. " * 16)[:1000]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    sink = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.smtp", "--port", str(port), "--pipelining"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout.readline().strip() == "ready"
    return sink


def raw_smtplib(port: int, count: int) -> float:
    payload = (
        "From: bench@example.com\r\nTo: {to}\r\nSubject: Autumn news\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="us-ascii"\r\n\r\n' + BODY.replace("\n", "\r\n")
    )
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
    for n in range(count):
        to = f"raw{n}@example.org"
        smtp.sendmail("bench@example.com", [to], payload.format(to=to, full_name="Reader").encode())
    smtp.quit()
    return count / (time.perf_counter() - started)


TOKEN = "bench-unsubscribe-token"  # noqa: S105  (an unsubscribe token, no secret)
LABELS = {"rsa": "RSA-2048", "ed25519": "Ed25519", "both": "Ed25519 + RSA-2048 (two signatures)"}


def signing_costs(message, count: int = 2000) -> dict[str, float]:
    """Microseconds to compose one message (render_bytes) unsigned and signed with each kind of key, in this
    process, best of three runs of `count`."""
    from backend.mailings import signing
    from backend.mailings.compose import PreparedMessage

    keys = {
        name: signing.load_private_key(
            signing.generate_pem(name), domain="bench.example.net", selector=name, source="bench"
        )
        for name in ("rsa", "ed25519")
    }
    variants = {"none": [], "rsa": [keys["rsa"]], "ed25519": [keys["ed25519"]]}
    variants["both"] = [keys["ed25519"], keys["rsa"]]
    prepared = PreparedMessage(message)
    costs = {}
    for name, chosen in variants.items():
        prepared.signer = signing.MessageSigner(chosen)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for n in range(count):
                prepared.render_bytes(email=f"reader{n}@example.org", full_name=f"Reader {n}", token=TOKEN)
            best = min(best, time.perf_counter() - started)
        costs[name] = best * 1e6 / count
    return costs


def pipelining_round_trips(message, count: int) -> dict[bool, tuple[float, float]]:
    """{pipelining: (round trips per message, msgs/s)} over one SMTPConnection to the sink (which offers
    PIPELINING), `count` messages each way, unsigned."""
    from django.conf import settings

    from backend.mailings.compose import PreparedMessage
    from backend.mailings.sending.transport import SMTPConnection

    prepared = PreparedMessage(message)
    outcome = {}
    for pipelining in (False, True):
        settings.EMAIL_PIPELINING = pipelining
        connection = SMTPConnection()
        started = time.perf_counter()
        try:
            for n in range(count):
                result = connection.send(
                    prepared, email=f"rt{n}@example.org", full_name="Reader", token=TOKEN
                )
                assert result.code == 250, result
        finally:
            connection.close()
        outcome[pipelining] = (connection.round_trips / count, count / (time.perf_counter() - started))
    settings.EMAIL_PIPELINING = True
    return outcome


def parse_peer_configs(text: str) -> list[tuple[int, int, int]]:
    configs = []
    for item in text.split(","):
        parts = item.strip().lower().split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"{item!r} is not BATCHxTHREADSxPROCESSES")
        configs.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return configs


def peer_label(config: tuple[int, int, int]) -> str:
    batch, threads, processes = config
    return f"post_office batch {batch} x {threads} threads x {processes} process{'es' * (processes > 1)}"


class PeerDatabase:
    """post_office's throw-away database: `<name>_peer` on the same PostgreSQL server, or a SQLite file."""

    def __init__(self, database_url: str):
        import environ

        self.config = environ.Env.db_url_config(database_url)
        self.postgres = self.config["ENGINE"] == "django.db.backends.postgresql"
        if self.postgres:
            self.name = f"{self.config['NAME']}_peer"
            parts = urlsplit(database_url)
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
        else:
            self.path = ROOT / "var" / "bench-peer.sqlite3"
            self.url = f"sqlite:///{self.path}"

    def _admin(self, statement: str) -> None:
        import psycopg2

        conn = psycopg2.connect(
            dbname="postgres",
            user=self.config.get("USER") or None,
            password=self.config.get("PASSWORD") or None,
            host=self.config.get("HOST") or None,
            port=self.config.get("PORT") or None,
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()

    def create(self) -> None:
        self.drop()
        if self.postgres:
            self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.postgres:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}"')
        else:
            self.path.unlink(missing_ok=True)


def run_peer(db: PeerDatabase, config: tuple[int, int, int], count: int, key_file: str | None = None) -> dict:
    batch, threads, processes = config
    env = dict(
        os.environ,
        PEER_DATABASE_URL=db.url,
        PEER_BATCH_SIZE=str(batch),
        PEER_THREADS=str(threads),
    )
    env.pop("PEER_DKIM_KEY_FILE", None)
    if key_file:  # the peer signs every message as the engine does (bench/peers/signing_backend.py)
        env["PEER_DKIM_KEY_FILE"] = key_file
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [sys.executable, "bench/peers/post_office_run.py", "--messages", str(count)]
    command += ["--processes", str(processes)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"post_office ({peer_label(config)}) failed: {result.stderr.strip()[-2000:]}")
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    outcome["rate"] = count / max(outcome["sending_s"], 1e-6)
    return outcome


def run_engine(
    mailing_id: int, profile: str | None, gil: bool = False, env: dict[str, str] | None = None
) -> tuple[str, float, float]:
    """`manage.py send_mailing` in a child: its stdout, its peak RSS in MiB (not the peers') and CPU seconds.

    With `profile`, py-spy samples every thread of the child (collapsed stacks to that file); with `gil`, only
    the thread holding the GIL: where the Python CPU goes, without the waits on sockets."""
    command = [sys.executable, "manage.py", "send_mailing", str(mailing_id)]
    if profile:
        py_spy = Path(sys.executable).with_name("py-spy")
        command = [str(py_spy), "record", "--rate", "250", "--nonblocking", "--format", "raw"]
        command += ["--gil"] * gil + [
            "--output",
            profile,
            "--",
            sys.executable,
            "manage.py",
            "send_mailing",
            str(mailing_id),
        ]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=err,
            text=True,
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"send_mailing failed: {err.read().strip()[-2000:]}")
        return out.read().strip(), usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="recipients in the mailing (default 5000)")
    parser.add_argument(
        "--workers", type=int, default=None, help="MAILER_SEND_WORKERS (default: the setting)"
    )
    parser.add_argument(
        "--record-batch",
        type=int,
        default=None,
        help="MAILER_RECORD_BATCH: attempts written per statement (default: the setting; 1 = each at once)",
    )
    parser.add_argument(
        "--peers", action="store_true", help="also run django-post_office (bench/requirements-peers.txt)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds, medians reported (default 3 with --peers, else 1)",
    )
    parser.add_argument(
        "--peer-configs",
        default="100x5x1,1000x8x1,5000x5x2,5000x5x3",
        help="post_office configurations BATCHxTHREADSxPROCESSES, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--signing",
        default="rsa,ed25519",
        help="engine runs with an operator DKIM key of each algorithm, comma-separated, or none "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--peer-signing",
        default="none",
        help="with --peers, also run each post_office configuration signing every message with a key of "
        "each algorithm (rsa, ed25519, comma-separated; the engine's signer), or none (default: %(default)s)",
    )
    parser.add_argument(
        "--pipelining-messages",
        type=int,
        default=1000,
        help="messages sent over one connection with and without PIPELINING (default %(default)s)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the sender under py-spy (bench/requirements-peers.txt): collapsed stacks to FILE[.round]",
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="with --profile: sample only the thread holding the GIL"
    )
    args = parser.parse_args()
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.record_batch is not None and args.record_batch < 1:
        parser.error("--record-batch must be at least 1")
    rounds = args.rounds if args.rounds is not None else (3 if args.peers else 1)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        peer_configs = parse_peer_configs(args.peer_configs) if args.peers else []
    except ValueError as exc:
        parser.error(str(exc))
    algorithms = [] if args.signing == "none" else [a.strip() for a in args.signing.split(",") if a.strip()]
    if any(a not in ("rsa", "ed25519") for a in algorithms):
        parser.error("--signing takes rsa, ed25519 (comma-separated) or none")
    peer_signing = (
        [] if args.peer_signing == "none" else [a.strip() for a in args.peer_signing.split(",") if a.strip()]
    )
    if any(a not in ("rsa", "ed25519") for a in peer_signing) or (peer_signing and not args.peers):
        parser.error("--peer-signing takes rsa, ed25519 (comma-separated) or none, and needs --peers")
    for name in ("DKIM_DOMAIN", "DKIM_PRIVATE_KEY_FILE"):  # this process composes unsigned; children choose
        os.environ.pop(name, None)

    production_mode()
    if not os.environ.get("DATABASE_URL"):
        bench_db = ROOT / "var" / "bench.sqlite3"
        bench_db.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{bench_db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    port = free_port()
    os.environ.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), MAILER_RATE_LIMIT="0")
    if args.workers:
        os.environ["MAILER_SEND_WORKERS"] = str(args.workers)
    if args.record_batch:
        os.environ["MAILER_RECORD_BATCH"] = str(args.record_batch)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max, Min
    from django.utils import timezone

    from backend.accounts.models import User
    from backend.mailings import signing
    from backend.mailings.models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence

    call_command("migrate", verbosity=0)
    db = connection.vendor
    owner = User.objects.create_user(f"bench-{time.time_ns()}@example.com", "bench-password-1")
    peer_db = PeerDatabase(os.environ["DATABASE_URL"]) if args.peers else None
    try:
        started = time.perf_counter()
        message = Message.objects.create(owner=owner, subject="Autumn news for {first_name}", body=BODY)
        # Seeded 2,000 at a time, keeping only ids: this process stays small, because a child started with
        # vfork (subprocess) carries its parent's peak RSS into its own ru_maxrss, the figure measured here.
        chunk = 2000
        client_ids: list[int] = []
        for first in range(0, args.messages, chunk):
            made = Client.objects.bulk_create(
                [
                    Client(owner=owner, email=f"reader{n}@example.org", full_name=f"Reader {n}")
                    for n in range(first, min(first + chunk, args.messages))
                ]
            )
            client_ids += [c.pk for c in made]
        through = Mailing.clients.through

        def tidy() -> None:
            """What autovacuum does for a live PostgreSQL after an import (it is off on the development
            machine): drop the dead rows earlier runs left and give the planner the seeded tables' sizes.
            Without it each run inherited the last one's dead deliveries (2.2 M after a day of runs: a claim's
            index scan read a million entries) and statistics of empty tables (a claim's recipient check
            nested-looped over the whole mailing), both worse for every claim than anything measured here."""
            if db != "postgresql":
                return
            tables = [Client, through, Delivery, DeliveryAttempt, Occurrence, Mailing]
            with connection.cursor() as cursor:
                for model in tables:
                    cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')

        def new_mailing() -> Mailing:
            now = timezone.now()
            mailing = Mailing.objects.create(
                owner=owner,
                message=message,
                start_at=now,
                end_at=now + timezone.timedelta(days=1),
                next_run_at=None,
            )
            for first in range(0, len(client_ids), chunk):
                through.objects.bulk_create(
                    [through(mailing_id=mailing.pk, client_id=pk) for pk in client_ids[first : first + chunk]]
                )
            tidy()
            return mailing

        # One mailing per round, made just before its send: a send completes the owner's finished mailings.
        mailing = new_mailing()
        print(f"seeded {args.messages} clients on {db} in {time.perf_counter() - started:.1f} s")
        if peer_db:
            peer_db.create()

        raws, engines, peaks = [], [], []
        signed: dict[str, list[float]] = {algorithm: [] for algorithm in algorithms}
        peers: dict[tuple[int, int, int], list[float]] = {config: [] for config in peer_configs}
        signed_peers: dict[tuple[str, tuple[int, int, int]], list[float]] = {
            (algorithm, config): [] for algorithm in peer_signing for config in peer_configs
        }
        workers = settings.MAILER_SEND_WORKERS
        engine_label = f"{workers} workers, attempts written {settings.MAILER_RECORD_BATCH} per statement"
        keys_dir = tempfile.TemporaryDirectory()
        signing_env = {}
        for algorithm in sorted(set(algorithms) | set(peer_signing)):
            path = Path(keys_dir.name) / f"{algorithm}.pem"
            path.write_bytes(signing.generate_pem(algorithm))
            signing_env[algorithm] = {
                "DKIM_DOMAIN": "bench.example.net",
                "DKIM_SELECTOR": algorithm,
                "DKIM_PRIVATE_KEY_FILE": str(path),
            }
        costs = signing_costs(message)
        sink = start_sink(port)
        try:
            trips = pipelining_round_trips(message, args.pipelining_messages)
            for round_no in range(rounds):
                if rounds > 1:
                    print(f"-- round {round_no + 1} of {rounds}")
                raw = raw_smtplib(port, args.messages)
                raws.append(raw)
                print(f"raw smtplib, one reused connection: {raw:,.0f} msgs/s")

                if round_no:
                    mailing = new_mailing()
                profile = args.profile and (args.profile + (f".{round_no + 1}" if rounds > 1 else ""))
                summary, peak_mib, cpu_s = run_engine(mailing.pk, profile, args.profile_gil)
                peaks.append(peak_mib)
                print(f"send_mailing: {summary}")
                occurrence = Occurrence.objects.get(mailing=mailing)
                span = DeliveryAttempt.objects.filter(delivery__occurrence=occurrence).aggregate(
                    first=Min("attempted_at"), last=Max("attempted_at")
                )
                first, last = span["first"], span["last"]
                sent = occurrence.deliveries.filter(status="sent").count()
                engine = sent / max((last - occurrence.created_at).total_seconds(), 1e-6)
                engines.append(engine)
                print(f"engine sent {sent} of {args.messages}")
                queueing = (first - occurrence.created_at).total_seconds()
                sending = (last - first).total_seconds()
                print(
                    f"engine timeline: {queueing:.1f} s creating the deliveries, then {sending:.1f} s sending"
                )
                print(
                    f"engine ({engine_label}, every attempt logged): {engine:,.0f} msgs/s; "
                    f"sender peak RSS {peak_mib:.0f} MiB, CPU {cpu_s * 1e6 / args.messages:.0f} us/message"
                )
                for algorithm in algorithms:
                    mailing = new_mailing()
                    summary, peak_mib, cpu_s = run_engine(mailing.pk, None, env=signing_env[algorithm])
                    peaks.append(peak_mib)
                    occurrence = Occurrence.objects.get(mailing=mailing)
                    last = DeliveryAttempt.objects.filter(delivery__occurrence=occurrence).aggregate(
                        last=Max("attempted_at")
                    )["last"]
                    signed_sent = occurrence.deliveries.filter(status="sent").count()
                    rate = signed_sent / max((last - occurrence.created_at).total_seconds(), 1e-6)
                    signed[algorithm].append(rate)
                    print(
                        f"engine, every message DKIM-signed ({LABELS[algorithm]} operator key): {rate:,.0f} "
                        f"msgs/s (sent {signed_sent}); CPU {cpu_s * 1e6 / args.messages:.0f} us/message"
                    )

                for config in peer_configs:
                    outcome = run_peer(peer_db, config, args.messages)
                    peers[config].append(outcome["rate"])
                    print(
                        f"{peer_label(config)}: {outcome['rate']:,.0f} msgs/s (sent {outcome['sent']}, "
                        f"failed {outcome['failed']}, {outcome['logged']} attempts logged; "
                        f"{outcome['queueing_s']:.1f} s queueing, then {outcome['sending_s']:.1f} s sending)"
                    )
                for algorithm, config in signed_peers:
                    key_file = signing_env[algorithm]["DKIM_PRIVATE_KEY_FILE"]
                    outcome = run_peer(peer_db, config, args.messages, key_file=key_file)
                    signed_peers[algorithm, config].append(outcome["rate"])
                    print(
                        f"{peer_label(config)}, every message DKIM-signed ({LABELS[algorithm]}): "
                        f"{outcome['rate']:,.0f} msgs/s (sent {outcome['sent']}, failed {outcome['failed']})"
                    )
        finally:
            sink.terminate()
            sink_out = sink.communicate(timeout=30)[0].strip()
        print(f"sink: {sink_out}")
        sink_stats = dict(item.split("=") for item in sink_out.split())
        sink_us = float(sink_stats["cpu_s"]) * 1e6 / max(int(sink_stats["received"]), 1)
        print(f"sink CPU: {sink_us:.0f} us/message (one process: it can take at most one core)")

        raw, engine, peak_mib = statistics.median(raws), statistics.median(engines), max(peaks)
        ratio = engine / raw
        which = f"medians of {rounds} rounds: " if rounds > 1 else ""
        print(f"{which}raw smtplib {raw:,.0f} msgs/s; engine ({engine_label}) {engine:,.0f} msgs/s")
        print(f"ratio engine/raw: {ratio:.2f}; sender peak RSS: {peak_mib:.0f} MiB")
        print(
            "DKIM signing, composing one message in one thread: unsigned "
            + f"{costs['none']:.0f} us; added by "
            + "; ".join(
                f"{LABELS[name]} {costs[name] - costs['none']:.0f} us" for name in costs if name != "none"
            )
        )
        print(
            f"round trips per message: {trips[False][0]:.2f} one command at a time "
            f"({trips[False][1]:,.0f} msgs/s over one connection), {trips[True][0]:.2f} with PIPELINING "
            f"({trips[True][1]:,.0f} msgs/s): {trips[False][0] - trips[True][0]:.2f} saved"
        )
        signed_fields = ""
        for algorithm, rates in signed.items():
            rate = statistics.median(rates)
            print(
                f"{which}engine signed with {LABELS[algorithm]}: {rate:,.0f} msgs/s "
                f"({rate / engine:.2f} of unsigned)"
            )
            signed_fields += f"engine_signed_{algorithm}_msgs_per_s={rate:.0f} "
        peer_fields = ""
        if peers:
            medians = {config: statistics.median(rates) for config, rates in peers.items()}
            for config, rate in medians.items():
                print(f"{which}{peer_label(config)}: {rate:,.0f} msgs/s ({rate / raw:.2f} of raw)")
            best = max(medians, key=medians.get)
            peer_ratio = engine / medians[best]
            print(f"best peer: {peer_label(best)}; engine/peer: {peer_ratio:.2f}")
            for algorithm, rates in signed.items():
                print(
                    f"engine signed with {LABELS[algorithm]} / best peer (unsigned): "
                    f"{statistics.median(rates) / medians[best]:.2f}"
                )
            peer_fields = f"peer_best_msgs_per_s={medians[best]:.0f} peer_ratio={peer_ratio:.2f} "
            for algorithm in peer_signing:
                rates = {c: statistics.median(signed_peers[algorithm, c]) for c in peer_configs}
                best_signed = max(rates, key=rates.get)
                print(
                    f"{which}best peer signing with {LABELS[algorithm]}: {peer_label(best_signed)} "
                    f"{rates[best_signed]:,.0f} msgs/s"
                )
                if algorithm in signed:
                    engine_signed = statistics.median(signed[algorithm])
                    print(
                        f"engine signed with {LABELS[algorithm]} / best peer signed with it: "
                        f"{engine_signed / rates[best_signed]:.2f}"
                    )
                peer_fields += f"peer_signed_{algorithm}_msgs_per_s={rates[best_signed]:.0f} "
        print(
            f"ratio={ratio:.2f} engine_msgs_per_s={engine:.0f} raw_msgs_per_s={raw:.0f} {signed_fields}"
            f"{peer_fields}peak_rss_mib={peak_mib:.0f} messages={args.messages} db={db}"
        )
    finally:
        owner.delete()
        if peer_db:
            peer_db.drop()
        if algorithms:
            keys_dir.cleanup()


if __name__ == "__main__":
    main()
