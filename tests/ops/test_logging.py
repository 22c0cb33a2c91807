"""Log formats: LOG_FORMAT=json gives one JSON object per line with the engine's ids; both
formats keep control characters (an SMTP server's `\x1b[31m`) as escapes, never raw (R-SEND-5: the
server's answer is logged)."""

import contextlib
import datetime as dt
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from backend.logs import JsonFormatter, PlainFormatter, escape_controls, logging_config
from backend.mailings.compose import SendResult
from backend.mailings.models import Delivery
from backend.mailings.sending import send_due
from backend.mailings.sending.occurrences import start_due
from backend.mailings.sending.summary import PassSummary
from backend.mailings.sending.worker import Workers
from tests.factories import UserFactory, make_manager
from tests.fakes.smtp import free_port
from tests.helpers import clean_env, database_url, run_python
from tests.sending_helpers import due_mailing

ROOT = Path(__file__).resolve().parents[2]
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e]")
ANSWER = "421 4.3.2 \x1b[31mgo away\x1b[0m\r\nFAKE 2026 ERROR forged line\u2028\u202e"


def record(message="%s", *args, name="backend.mailings.sending.worker", level=logging.WARNING, **extra):
    made = logging.LogRecord(name, level, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_escape_controls_writes_escapes_and_leaves_text_alone():
    assert escape_controls("a\x1b[31mb\nc\rd\te\x00\x7f\x9b\u2028\u202e Ёж") == (
        "a\\x1b[31mb\\nc\\rd\\te\\x00\\x7f\\x9b\\u2028\\u202e Ёж"
    )
    assert escape_controls("line 1\nline \x1b2", keep_newlines=True) == "line 1\nline \\x1b2"
    once = escape_controls(ANSWER)
    assert escape_controls(once) == once  # escaping twice changes nothing


def test_plain_line_escapes_the_message_and_its_arguments():
    """The default format stays human-readable: one line, control characters as escapes."""
    line = PlainFormatter("%(levelname)s %(name)s: %(message)s").format(record("answer: %s", ANSWER))
    assert line == (
        "WARNING backend.mailings.sending.worker: answer: 421 4.3.2 \\x1b[31mgo away\\x1b[0m"
        "\\r\\nFAKE 2026 ERROR forged line\\u2028\\u202e"
    )
    assert "\n" not in line and not RAW_CONTROL.search(line)


def test_plain_traceback_keeps_its_lines_but_not_raw_escapes():
    formatter = PlainFormatter("%(message)s")
    try:
        raise RuntimeError("server said \x1b[31mno")
    except RuntimeError:
        made = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    text = formatter.format(made)
    assert text.startswith("failed\nTraceback (most recent call last):\n")
    assert "RuntimeError: server said \\x1b[31mno" in text
    assert not RAW_CONTROL.search(text)


def test_json_line_parses_and_has_the_fields():
    """Time (UTC ISO 8601), level, logger, message, and the ids the call passed."""
    line = JsonFormatter().format(
        record("delivery %s answered %s", 7, ANSWER, mailing_id=3, occurrence_id=5, delivery_id=7)
    )
    assert "\n" not in line and not RAW_CONTROL.search(line)
    data = json.loads(line)
    assert set(data) == {"time", "level", "logger", "message", "mailing_id", "occurrence_id", "delivery_id"}
    assert data["level"] == "WARNING" and data["logger"] == "backend.mailings.sending.worker"
    assert (data["mailing_id"], data["occurrence_id"], data["delivery_id"]) == (3, 5, 7)
    moment = dt.datetime.fromisoformat(data["time"].replace("Z", "+00:00"))
    assert abs((moment - timezone.now()).total_seconds()) < 60
    # Parsed, the message still holds escapes as text: printing it prints no escape sequence.
    assert "\x1b" not in data["message"] and "\\x1b[31mgo away" in data["message"]
    assert data["message"].startswith("delivery 7 answered 421 4.3.2 ")


def test_json_line_carries_the_traceback_and_odd_extras_as_text():
    try:
        raise ValueError("bad \x1b[0m")
    except ValueError:
        made = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    made.request = object()  # Django's request logger passes the request itself
    data = json.loads(JsonFormatter().format(made))
    assert data["message"] == "boom"
    assert data["exception"].startswith("Traceback") and "ValueError: bad \\x1b[0m" in data["exception"]
    assert data["request"].startswith("<object object")


# --- the engine's own log lines ----------------------------------------------------------------------


class AnsiGreeter:
    """An SMTP server that greets every connection with a 421 whose text holds terminal escapes."""

    def __init__(self):
        self.port = free_port()
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.sendall(b"421 4.3.2 \x1b[31mgo away\x1b[0m\r\n")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=2)


@pytest.mark.django_db
def test_an_smtp_answer_with_terminal_escapes_is_logged_escaped(settings, caplog):
    """R-SEND-5: a pass against a server answering `\x1b[31m` logs that answer, and both
    formats write it as `\\x1b[31m`."""
    with AnsiGreeter() as server:
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 2
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.MAILER_SEND_WORKERS = 1
        settings.MAILER_BREAKER_THRESHOLD = 2
        mailing = due_mailing(clients=3)
        caplog.set_level(logging.INFO)
        send_due()
    answers = mailing.deliveries.values_list("last_response", flat=True)
    assert any("\x1b[31m" in answer for answer in answers)  # stored as the server sent it
    quoting = [r for r in caplog.records if "\x1b[31m" in r.getMessage()]
    assert quoting, [r.getMessage() for r in caplog.records]
    for made in quoting:
        plain = PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(made)
        data = json.loads(JsonFormatter().format(made))
        for text in (plain, data["message"]):
            assert "\\x1b[31mgo away\\x1b[0m" in text
            assert "\x1b" not in text


@pytest.mark.django_db
def test_engine_lines_carry_occurrence_and_delivery_ids(smtp, caplog):
    """A worker that lost its lease says so with the delivery's ids as JSON fields."""
    due_mailing(clients=1)
    start_due(timezone.now(), PassSummary())
    workers = Workers(PassSummary())
    job = workers.claim()[0]
    Delivery.objects.filter(pk=job.pk).update(claim_token="taken-by-another-pass")
    caplog.set_level(logging.WARNING, logger="backend.mailings")
    workers.record(job, SendResult("sent", 250, "ok"))
    (made,) = [r for r in caplog.records if "taken over" in r.getMessage()]
    data = json.loads(JsonFormatter().format(made))
    assert (data["occurrence_id"], data["delivery_id"]) == (job.occurrence_id, job.pk)
    assert data["level"] == "WARNING" and data["logger"] == "backend.mailings.sending.worker"


# --- LOG_FORMAT, as a process started with it sees it ------------------------------------------------

EMIT = (
    "import django, logging; django.setup(); "
    "logging.getLogger('backend.mailings.sending.worker').warning("
    "'answer %s', '451 \\x1b[31mred', extra={'mailing_id': 1, 'occurrence_id': 2, 'delivery_id': 3}); "
    "logging.getLogger('django.request').error('Not Found: /x')"
)


def run_with(**env_vars) -> subprocess.CompletedProcess:
    return run_python(EMIT, DEBUG="1", **env_vars)


def test_log_format_json_makes_every_line_a_json_object():
    """With LOG_FORMAT=json each line on stderr is one object (the application's and
    Django's loggers alike)."""
    done = run_with(LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "answer 451 \\x1b[31mred"
    assert (first["mailing_id"], first["occurrence_id"], first["delivery_id"]) == (1, 2, 3)
    assert (second["logger"], second["level"], second["message"]) == (
        "django.request",
        "ERROR",
        "Not Found: /x",
    )
    assert "\x1b" not in done.stderr


def test_the_default_format_stays_human_readable():
    done = run_with(LOG_FORMAT="")
    assert done.returncode == 0, done.stderr
    first, second = done.stderr.strip().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING backend\.mailings\.sending\.worker: "
        r"answer 451 \\x1b\[31mred",
        first,
    )
    assert second.endswith("ERROR django.request: Not Found: /x")


def test_an_unknown_log_format_stops_start_up_clearly():
    done = run_with(LOG_FORMAT="xml")
    assert done.returncode != 0
    assert "LOG_FORMAT must be plain or json (got 'xml')" in done.stderr


def test_logging_config_routes_runserver_lines_into_json_only():
    """runserver's request lines join the JSON stream; the plain default leaves Django's own format."""
    assert "django.server" in logging_config(log_format="json", level="INFO")["loggers"]
    assert "django.server" not in logging_config(log_format="plain", level="INFO")["loggers"]


@pytest.fixture
def django_lines(caplog):
    """caplog sees what Django's own loggers write (they do not propagate to the root logger)."""
    caplog.set_level(logging.INFO)
    logger = logging.getLogger("django")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def forbidden_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "status_code", None) == 403]


@pytest.mark.django_db
def test_a_403_page_is_logged_as_one_line_without_a_traceback(client, django_lines):
    """Issue item: a PermissionDenied is one warning naming the method, the path, the status and the user's
    id, not a traceback in the console."""
    manager = make_manager()
    client.force_login(manager)
    assert client.get("/clients/?page=2").status_code == 403
    (line,) = forbidden_lines(django_lines)
    assert line.levelno == logging.WARNING
    assert line.exc_info is None and line.exc_text is None
    assert line.getMessage() == f"Forbidden (Permission denied): GET /clients/ status=403 user={manager.pk}"
    text = PlainFormatter("%(levelname)s %(name)s: %(message)s").format(line)
    assert "\n" not in text and "Traceback" not in text


@pytest.mark.django_db
def test_a_csrf_failure_is_logged_as_one_line_naming_the_user(django_lines):
    """Issue item: a refused CSRF check is one line with method, path, status and user id too."""
    owner = UserFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert browser.post("/clients/new/", {"email": "x@example.org"}).status_code == 403
    (line,) = forbidden_lines(django_lines)
    assert line.exc_info is None
    assert re.fullmatch(
        rf"Forbidden \(CSRF [^)]+\): POST /clients/new/ status=403 user={owner.pk}", line.getMessage()
    )


@pytest.mark.django_db
def test_an_anonymous_403_names_no_user(django_lines):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/accounts/login/", {"username": "a", "password": "b"}).status_code == 403
    (line,) = forbidden_lines(django_lines)
    assert line.getMessage().endswith(" POST /accounts/login/ status=403 user=-")


GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "python:backend.gunicorn_conf", "backend.wsgi"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_gunicorn_lines_are_json_too():
    """Gunicorn run as the Procfile runs it (`-c python:backend.gunicorn_conf`) writes its
    own lines, its access log and the application's lines as JSON objects; a request path holding an
    escape sequence is logged escaped."""
    port = free_port()
    env = clean_env(DEBUG="1", DATABASE_URL=database_url(), LOG_FORMAT="json", LOG_LEVEL="INFO")
    server = subprocess.Popen(
        [*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", "-"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nope%1B%5B31m", timeout=10)
        assert missing.value.code == 404
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    lines = [line for line in (out + err).splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line, or this raises
    loggers = {entry["logger"] for entry in parsed}
    assert {"gunicorn.error", "gunicorn.access", "django.request"} <= loggers
    assert any(entry["message"] == "Not Found: /nope\\x1b[31m" for entry in parsed), parsed
    assert "\x1b" not in out + err
