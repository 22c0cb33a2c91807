"""SMS backends for phone verification codes (R-AUTH-8).

The sms.ru backend talks real HTTP to `tests.fakes.smsru.FakeSmsRu` on loopback: success, a refused request,
a refused number, a slow answer (timeout), garbage, HTTP 500, odd JSON shapes and a closed port. Every failure
must be an `SMSError` with the translated user message and a log detail, logged as a warning, and the
``api_id`` must never reach the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from backend.accounts import sms
from backend.accounts.sms import ConsoleSMSBackend, SMSError, SmsRuBackend, get_sms_backend
from tests.fakes.smsru import BAD_API_ID_TEXT, NUMBER_REFUSED_TEXT, FakeSmsRu, closed_port

API_ID = "SECRET-api-id-5f3c9a"
PHONE = "+79161234567"
DIGITS = "79161234567"
TEXT = "Your code: 4821"
USER_MESSAGE = "The SMS could not be sent. Please try again later."
LOGGER = "backend.accounts.sms"


@pytest.fixture
def smsru(settings) -> Iterator[FakeSmsRu]:
    """The fake sms.ru, with SMS_BACKEND=smsru pointing at it."""
    with FakeSmsRu() as server:
        settings.SMS_BACKEND = "smsru"
        settings.SMSRU_API_ID = API_ID
        settings.SMSRU_URL = server.url
        settings.SMS_TIMEOUT = 2.0
        yield server


def warnings_from_sms(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def assert_no_secret_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert API_ID not in record.getMessage(), record.name
    assert API_ID not in caplog.text


# --- success -----------------------------------------------------------------------------------------------


def test_smsru_success_sends_the_right_params(smsru, caplog):
    caplog.set_level(logging.DEBUG)

    result = get_sms_backend().send(PHONE, TEXT)

    assert result is None
    assert smsru.requests == [{"api_id": API_ID, "to": DIGITS, "msg": TEXT, "json": "1"}]
    assert warnings_from_sms(caplog) == []
    assert_no_secret_logged(caplog)


def test_smsru_sends_digits_only(smsru):
    SmsRuBackend().send("+7 (916) 123-45-67", TEXT)

    assert smsru.requests[-1]["to"] == DIGITS


def test_smsru_accepts_a_number_normalised_by_smsru(smsru):
    """sms.ru may key its answer by the number it normalised (8916... -> 7916...); one entry is ours."""
    smsru.mode = "custom"
    smsru.custom_body = (
        '{"status": "OK", "status_code": 100, "sms": {"79161234567": {"status": "OK", "status_code": 100}}}'
    )

    SmsRuBackend().send("89161234567", TEXT)

    assert smsru.requests[-1]["to"] == "89161234567"


def test_smsru_sends_unicode_text_intact(smsru):
    SmsRuBackend().send(PHONE, "Ваш код: 4821")

    assert smsru.requests[-1]["msg"] == "Ваш код: 4821"


def test_settings_are_read_when_the_backend_is_made(smsru, settings):
    settings.SMSRU_API_ID = "another-id"
    settings.SMS_TIMEOUT = 1.25

    backend = get_sms_backend()

    assert isinstance(backend, SmsRuBackend)
    assert (backend.api_id, backend.url, backend.timeout) == ("another-id", smsru.url, 1.25)
    backend.send(PHONE, TEXT)
    assert smsru.requests[-1]["api_id"] == "another-id"


# --- failures ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "in_detail"),
    [
        ("error", ["200", BAD_API_ID_TEXT]),
        ("number_error", ["207", NUMBER_REFUSED_TEXT]),
        ("garbage", ["not JSON", "<html>oops</html>"]),
        ("http500", ["HTTP 500"]),
    ],
)
def test_smsru_failure_modes_raise_smserror_and_log(smsru, caplog, mode, in_detail):
    smsru.mode = mode
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SMSError) as info:
        get_sms_backend().send(PHONE, TEXT)

    exc = info.value
    assert str(exc) == USER_MESSAGE
    assert exc.user_message == USER_MESSAGE
    for fragment in in_detail:
        assert fragment in exc.detail
    assert len(smsru.requests) == 1  # it did reach the server
    warnings = warnings_from_sms(caplog)
    assert len(warnings) == 1
    assert exc.detail in warnings[0].getMessage()
    assert TEXT not in warnings[0].getMessage()  # the code is not written to the log on failure
    assert API_ID not in exc.detail
    assert_no_secret_logged(caplog)


@pytest.mark.parametrize(
    ("body", "in_detail"),
    [
        ("[1, 2]", "unexpected JSON"),
        ('"OK"', "unexpected JSON"),
        ('{"status": "OK", "status_code": 100}', "no per-number result"),
        ('{"status": "OK", "sms": {}}', "no per-number result"),
        ('{"status": "OK", "sms": {"1": {"status": "OK"}, "2": {"status": "OK"}}}', "no result for the"),
        ('{"status": "OK", "sms": {"79161234567": "OK"}}', "no result for the number"),
        ('{"status": "OK", "sms": {"79161234567": {"status_code": 100}}}', "refused the number"),
        ('{"sms": {"79161234567": {"status": "OK"}}}', "refused the request"),
    ],
)
def test_smsru_unexpected_json_shape_is_a_failure(smsru, caplog, body, in_detail):
    smsru.mode = "custom"
    smsru.custom_body = body

    with pytest.raises(SMSError) as info:
        SmsRuBackend().send(PHONE, TEXT)

    assert str(info.value) == USER_MESSAGE
    assert in_detail in info.value.detail
    assert len(warnings_from_sms(caplog)) == 1


def test_smsru_http_error_with_json_body_is_a_failure(smsru, caplog):
    """A non-200 status fails even when the body looks like a success."""
    smsru.mode = "custom"
    smsru.custom_status = 503
    smsru.custom_body = '{"status": "OK", "sms": {"79161234567": {"status": "OK"}}}'

    with pytest.raises(SMSError) as info:
        SmsRuBackend().send(PHONE, TEXT)

    assert "HTTP 503" in info.value.detail
    assert len(warnings_from_sms(caplog)) == 1


def test_smsru_slow_answer_times_out(smsru, settings, caplog):
    smsru.mode = "slow"
    smsru.delay = 1.5
    settings.SMS_TIMEOUT = 0.3
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SMSError) as info:
        get_sms_backend().send(PHONE, TEXT)

    assert str(info.value) == USER_MESSAGE
    assert "did not answer within 0.3 s" in info.value.detail
    assert isinstance(info.value.__cause__, requests.Timeout)
    assert len(smsru.requests) == 1
    assert len(warnings_from_sms(caplog)) == 1
    assert_no_secret_logged(caplog)


def test_smsru_connection_refused(settings, caplog):
    settings.SMS_BACKEND = "smsru"
    settings.SMSRU_API_ID = API_ID
    settings.SMSRU_URL = f"http://127.0.0.1:{closed_port()}/sms/send"
    settings.SMS_TIMEOUT = 2.0
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SMSError) as info:
        get_sms_backend().send(PHONE, TEXT)

    assert str(info.value) == USER_MESSAGE
    assert "could not reach sms.ru" in info.value.detail
    assert "ConnectionError" in info.value.detail
    warnings = warnings_from_sms(caplog)
    assert len(warnings) == 1
    assert info.value.detail in warnings[0].getMessage()
    assert_no_secret_logged(caplog)


def test_smsru_unexpected_exception_becomes_smserror(settings, monkeypatch, caplog):
    settings.SMSRU_API_ID = API_ID
    settings.SMSRU_URL = f"http://127.0.0.1:{closed_port()}/sms/send"  # never the real sms.ru

    def explode(*args, **kwargs):
        raise RuntimeError(f"boom with {API_ID}")

    monkeypatch.setattr(sms.requests, "post", explode)

    with pytest.raises(SMSError) as info:
        SmsRuBackend().send(PHONE, TEXT)

    assert str(info.value) == USER_MESSAGE
    assert "RuntimeError" in info.value.detail
    assert "boom" in info.value.detail
    assert isinstance(info.value.__cause__, RuntimeError)
    assert len(warnings_from_sms(caplog)) == 1
    assert API_ID not in info.value.detail  # scrubbed, even from a message that carried it
    assert_no_secret_logged(caplog)


def test_smsru_phone_without_digits_is_refused_before_sending(smsru, caplog):
    with pytest.raises(SMSError) as info:
        SmsRuBackend().send("+", TEXT)

    assert str(info.value) == "Enter a valid phone number."
    assert info.value.detail
    assert smsru.requests == []
    assert len(warnings_from_sms(caplog)) == 1


def test_user_message_goes_through_gettext_at_raise_time(smsru, monkeypatch):
    monkeypatch.setattr(sms, "_", lambda message: f"[translated] {message}")
    smsru.mode = "error"

    with pytest.raises(SMSError) as info:
        SmsRuBackend().send(PHONE, TEXT)

    assert str(info.value) == f"[translated] {USER_MESSAGE}"


def test_api_id_never_logged_in_any_mode(smsru, settings, caplog):
    settings.SMS_TIMEOUT = 0.3
    smsru.delay = 1.0
    caplog.set_level(logging.DEBUG)  # urllib3 logs each request line at DEBUG
    backend = get_sms_backend()

    for mode in ("ok", "error", "number_error", "slow", "garbage", "http500"):
        smsru.mode = mode
        try:
            backend.send(PHONE, TEXT)
        except SMSError as exc:
            assert API_ID not in exc.detail
            assert API_ID not in str(exc)

    assert len(smsru.requests) == 6
    assert all(r["api_id"] == API_ID for r in smsru.requests)  # it was sent, just never logged
    assert len(warnings_from_sms(caplog)) == 5
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # the DEBUG lines were captured
    assert_no_secret_logged(caplog)


# --- console backend and selection -------------------------------------------------------------------------


def test_console_backend_logs_the_text(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)

    result = ConsoleSMSBackend().send(PHONE, TEXT)

    assert result is None
    warnings = warnings_from_sms(caplog)
    assert len(warnings) == 1
    assert warnings[0].getMessage() == f"SMS to {PHONE}: {TEXT}"


def test_get_sms_backend_defaults_to_console(settings):
    settings.SMS_BACKEND = "console"

    assert isinstance(get_sms_backend(), ConsoleSMSBackend)


def test_get_sms_backend_picks_smsru(settings):
    settings.SMS_BACKEND = "smsru"
    settings.SMSRU_API_ID = API_ID

    backend = get_sms_backend()

    assert isinstance(backend, SmsRuBackend)
    assert backend.api_id == API_ID


def test_get_sms_backend_rejects_unknown_names(settings):
    settings.SMS_BACKEND = "carrier-pigeon"

    with pytest.raises(ImproperlyConfigured, match="carrier-pigeon"):
        get_sms_backend()


@pytest.mark.parametrize(
    ("mode", "not_sent"),
    [("error", True), ("number_error", True), ("garbage", False), ("http500", False), ("slow", False)],
)
def test_not_sent_is_true_only_when_smsru_certainly_did_not_send(smsru, settings, mode, not_sent):
    """The daily caps are given back only for an SMS that cost nothing."""
    settings.SMS_TIMEOUT = 0.3
    smsru.mode, smsru.delay = mode, 1.0

    with pytest.raises(SMSError) as info:
        get_sms_backend().send(PHONE, TEXT)

    assert info.value.not_sent is not_sent


def test_not_sent_when_smsru_cannot_be_reached_or_the_number_has_no_digits(settings):
    settings.SMSRU_URL = f"http://127.0.0.1:{closed_port()}/sms/send"
    for phone in (PHONE, "+"):
        with pytest.raises(SMSError) as info:
            SmsRuBackend(api_id=API_ID).send(phone, TEXT)
        assert info.value.not_sent is True
