"""Settings come from the environment (item 3); each case runs in a fresh interpreter."""

import json
import secrets

import pytest

from tests.helpers import ROOT, run_manage, run_python

PROD = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "JWT_SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "mailer.example.com",
    "SITE_URL": "https://mailer.example.com",
}


def read_settings(*names: str, **env: str) -> dict:
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    result = run_python(code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def settings_error(**env: str) -> str:
    result = run_python("from django.conf import settings; settings.DATABASES", **env)
    assert result.returncode != 0
    return result.stderr.strip().splitlines()[-1]


def test_development_defaults():
    values = read_settings(
        "DEBUG",
        "DATABASES",
        "CACHES",
        "EMAIL_BACKEND",
        "EMAIL_FILE_PATH",
        "EMAIL_TIMEOUT",
        "USE_TZ",
        DEBUG="1",
    )
    assert values["DEBUG"] is True
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASES"]["default"]["NAME"] == str(ROOT / "var" / "db.sqlite3")
    assert values["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")
    assert values["EMAIL_BACKEND"].endswith("filebased.EmailBackend")
    assert values["EMAIL_FILE_PATH"] == str(ROOT / "var" / "outbox")
    assert values["EMAIL_TIMEOUT"] == 10.0
    assert values["USE_TZ"] is True


def test_each_variable_is_parsed():
    values = read_settings(
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SITE_URL",
        "DATABASES",
        "CACHES",
        "EMAIL_BACKEND",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        "EMAIL_USE_TLS",
        "EMAIL_USE_SSL",
        "EMAIL_TIMEOUT",
        "DEFAULT_FROM_EMAIL",
        "TIME_ZONE",
        "LANGUAGE_CODE",
        "SECRET_KEY",
        DEBUG="1",
        SECRET_KEY="k" * 60,
        ALLOWED_HOSTS="a.example.com, b.example.com",
        CSRF_TRUSTED_ORIGINS="https://a.example.com",
        SITE_URL="https://a.example.com/",
        DATABASE_URL="postgres://mailer:pw@db.internal:5433/mailer",
        REDIS_URL="redis://cache.internal:6380/3",
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="587",
        EMAIL_HOST_USER="bot",
        EMAIL_HOST_PASSWORD="secret",
        EMAIL_USE_TLS="1",
        EMAIL_TIMEOUT="2.5",
        DEFAULT_FROM_EMAIL="News <news@example.com>",
        TIME_ZONE="Europe/Moscow",
        LANGUAGE_CODE="ru",
    )
    assert values["ALLOWED_HOSTS"] == ["a.example.com", "b.example.com"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://a.example.com"]
    assert values["SITE_URL"] == "https://a.example.com"
    db = values["DATABASES"]["default"]
    assert (db["ENGINE"], db["NAME"], db["USER"], db["HOST"], db["PORT"]) == (
        "django.db.backends.postgresql",
        "mailer",
        "mailer",
        "db.internal",
        5433,
    )
    cache = values["CACHES"]["default"]
    assert cache["BACKEND"] == "backend.cache.ResilientRedisCache"
    assert cache["LOCATION"] == "redis://cache.internal:6380/3"
    assert cache["OPTIONS"]["IGNORE_EXCEPTIONS"] is True
    throttle = values["CACHES"]["throttle"]
    assert (throttle["LOCATION"], throttle["OPTIONS"]["IGNORE_EXCEPTIONS"]) == (cache["LOCATION"], False)
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["EMAIL_HOST"] == "smtp.example.com"
    assert values["EMAIL_PORT"] == 587
    assert (values["EMAIL_HOST_USER"], values["EMAIL_HOST_PASSWORD"]) == ("bot", "secret")
    assert (values["EMAIL_USE_TLS"], values["EMAIL_USE_SSL"]) == (True, False)
    assert values["EMAIL_TIMEOUT"] == 2.5
    assert values["DEFAULT_FROM_EMAIL"] == "News <news@example.com>"
    assert values["TIME_ZONE"] == "Europe/Moscow"
    assert values["LANGUAGE_CODE"] == "ru"
    assert values["SECRET_KEY"] == "k" * 60


def test_empty_values_fall_back_to_defaults():
    values = read_settings(
        "DATABASES", "EMAIL_PORT", "SECURE_SSL_REDIRECT", DEBUG="1", DATABASE_URL="", EMAIL_PORT=""
    )
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["EMAIL_PORT"] == 25
    assert values["SECURE_SSL_REDIRECT"] is False


def test_production_security_follows_https_site_url():
    values = read_settings(
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "DEBUG",
        **PROD,
    )
    assert values == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "DEBUG": False,
    }
    behind_proxy = read_settings("SECURE_SSL_REDIRECT", **{**PROD, "SECURE_SSL_REDIRECT": "0"})
    assert behind_proxy["SECURE_SSL_REDIRECT"] is False


def test_env_file_is_read_when_present(tmp_path):
    env_file = tmp_path / "custom.env"
    env_file.write_text("DEBUG=1\nTIME_ZONE=Asia/Tokyo\n")
    assert read_settings("TIME_ZONE", ENV_FILE=str(env_file))["TIME_ZONE"] == "Asia/Tokyo"


def test_only_the_test_settings_module_skips_the_env_file_and_a_pytest_run_is_not_guessed(tmp_path):
    """The test profile is the settings module pytest-django names, not a guess from pytest's environment
    variables: a process that merely runs under pytest (PYTEST_VERSION set) reads .env like any other."""
    env_file = tmp_path / "custom.env"
    env_file.write_text("DEBUG=1\nTIME_ZONE=Asia/Tokyo\n")
    under_pytest = read_settings("TIME_ZONE", "TESTING", ENV_FILE=str(env_file), PYTEST_VERSION="8.3.0")
    assert under_pytest == {"TIME_ZONE": "Asia/Tokyo", "TESTING": False}
    tests = read_settings(
        "TIME_ZONE",
        "TESTING",
        "PASSWORD_HASHERS",
        ENV_FILE=str(env_file),
        DJANGO_SETTINGS_MODULE="backend.settings_test",
    )
    assert tests["TIME_ZONE"] == "UTC"
    assert tests["TESTING"] is True
    assert tests["PASSWORD_HASHERS"] == ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "0"}, "SECRET_KEY is not set"),
        ({"DEBUG": "0", "SECRET_KEY": "k" * 60}, "JWT_SECRET_KEY is not set"),
        ({"DEBUG": "0", "SECRET_KEY": "k" * 60, "JWT_SECRET_KEY": "k" * 60}, "must differ from SECRET_KEY"),
        ({"DEBUG": "1", "DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL must use sqlite:// or postgres://"),
        ({"DEBUG": "1", "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DEBUG": "maybe"}, "DEBUG must be 1/0"),
        ({"DEBUG": "1", "EMAIL_PORT": "smtp"}, "EMAIL_PORT has an invalid value"),
        ({"DEBUG": "1", "TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE 'Mars/Olympus' is not an IANA time zone"),
        ({"DEBUG": "1", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "exclusive"),
        ({"DEBUG": "1", "SMS_BACKEND": "pigeon"}, "SMS_BACKEND must be console or smsru"),
        ({"DEBUG": "1", "SMS_BACKEND": "smsru"}, "SMS_BACKEND=smsru needs SMSRU_API_ID"),
        ({"DEBUG": "1", "MAILER_SEND_WORKERS": "0"}, "MAILER_SEND_WORKERS must be at least 1"),
        ({"DEBUG": "1", "MAILER_RECORD_BATCH": "0"}, "MAILER_RECORD_BATCH must be at least 1"),
        ({"DEBUG": "1", "DELIVERY_LOG_DAYS": "7"}, "DELIVERY_LOG_DAYS must be 0 (keep for ever) or 30"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_error(env, message):
    last_line = settings_error(**env)
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert message in last_line


def test_check_deploy_is_clean_under_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PROD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_honcho_and_the_settings_read_env_example_alike():
    """`make run` starts honcho, which reads .env itself with shell-like rules and hands the values to the
    processes, whose settings then keep them over their own reading of .env: an unquoted
    `Mailer <noreply@localhost>` reached them as `Mailer<noreply@localhost>`. Every value
    of .env.example means the same to both readers."""
    import environ
    from honcho.environ import parse

    class Scratch(environ.Env):
        ENVIRON: dict[str, str] = {}

    Scratch.read_env(ROOT / ".env.example")
    # honcho leaves an empty value out; the settings take an empty value as unset.
    assert parse((ROOT / ".env.example").read_text()) == {k: v for k, v in Scratch.ENVIRON.items() if v}
    assert Scratch.ENVIRON["DEFAULT_FROM_EMAIL"] == "Mailer <noreply@localhost>"


def test_run_port_moves_the_server_and_the_links_in_emails():
    """`PORT=8765 make run` serves on 8765 and, without SITE_URL, links in emails follow."""
    import subprocess

    dry = subprocess.run(
        ["make", "-n", "run", "PORT=8765"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0, dry.stderr
    assert "RUN_PORT=8765" in dry.stdout and "http://127.0.0.1:8765" in dry.stdout
    web = next(line for line in (ROOT / "Procfile.dev").read_text().splitlines() if line.startswith("web:"))
    assert "127.0.0.1:${RUN_PORT:-8000}" in web
    assert read_settings("SITE_URL", DEBUG="1", RUN_PORT="8765")["SITE_URL"] == "http://127.0.0.1:8765"
    assert read_settings("SITE_URL", DEBUG="1")["SITE_URL"] == "http://127.0.0.1:8000"
    kept = read_settings("SITE_URL", DEBUG="1", RUN_PORT="8765", SITE_URL="https://m.example.com")
    assert kept["SITE_URL"] == "https://m.example.com"
    assert "RUN_PORT must be a TCP port" in settings_error(DEBUG="1", RUN_PORT="70000")
