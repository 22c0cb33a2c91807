"""Mailer settings: one module, every value read from the environment (12-factor).

Nothing is set only for production: production turns features on through variables
(see `.env.example`). A `.env` file next to `manage.py` is read when present, except
for the test suite, so a developer's local `.env` never changes what the tests see.
"""

import datetime as dt
import os
import zoneinfo
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from backend.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# The test suite chooses `backend.settings_test` (pytest-django's settings module, in pyproject.toml), which
# builds on this module; what must be decided while this module runs (no .env, development keys) asks this.
TEST_SETTINGS_MODULE = "backend.settings_test"
TESTING = os.environ.get("DJANGO_SETTINGS_MODULE") == TEST_SETTINGS_MODULE

env = environ.Env()
ENV_FILE = Path(os.environ.get("ENV_FILE", BASE_DIR / ".env"))
if not TESTING and ENV_FILE.is_file():
    env.read_env(ENV_FILE)


def setting(kind: str, name: str, default=None):
    """Read one variable; an empty value counts as unset, a malformed one stops start-up clearly."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if kind == "bool":
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off (got {raw!r}).")
    if kind == "list":
        return [item.strip() for item in raw.split(",") if item.strip()]
    try:
        return getattr(env, kind)(name)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name} has an invalid value for a {kind}: {exc}") from exc


DEBUG = setting("bool", "DEBUG", False)


def _signing_key(name: str, dev_key: str, hint: str = "") -> str:
    """A key from the environment; a fixed development key is acceptable only where nothing real is signed
    (a DEBUG run or the tests)."""
    key = setting("str", name, "")
    if key:
        return key
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            f"{name} is not set. Set it in the environment or .env{hint} "
            "(DEBUG is off, so no development key is used)."
        )
    return dev_key


SECRET_KEY = _signing_key("SECRET_KEY", "dev-insecure-only-for-debug-and-tests-do-not-use-in-production")
# API access tokens are signed with a key of their own: rotating it signs every API client out and nothing
# else, and a leak of SECRET_KEY (sessions, links) does not let anyone mint API tokens, nor the reverse.
JWT_SECRET_KEY = _signing_key(
    "JWT_SECRET_KEY",
    "dev-jwt-insecure-only-for-debug-and-tests",
    " to a long random string other than SECRET_KEY",
)
if JWT_SECRET_KEY == SECRET_KEY:
    raise ImproperlyConfigured("JWT_SECRET_KEY must differ from SECRET_KEY.")

# The port `make run` serves on (`PORT=8765 make run` sets it; Procfile.dev's runserver listens on it).
# Without SITE_URL, links in emails point at this port, so a run on another port still mails working links.
RUN_PORT = setting("int", "RUN_PORT", 8000)
if not 0 < RUN_PORT < 65536:
    raise ImproperlyConfigured(f"RUN_PORT must be a TCP port, 1-65535 (got {RUN_PORT}).")
SITE_URL = setting("str", "SITE_URL", f"http://127.0.0.1:{RUN_PORT}").rstrip("/")
_SITE_IS_HTTPS = SITE_URL.startswith("https://")

ALLOWED_HOSTS = setting(
    "list", "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG or TESTING else []
)
CSRF_TRUSTED_ORIGINS = setting("list", "CSRF_TRUSTED_ORIGINS", [])

# --- Applications -------------------------------------------------------------------

INSTALLED_APPS = [
    "backend.accounts",
    "backend.mailings",
    "backend.web",
    "cms",
    # Wagtail (the blog's CMS, admin at /cms/)
    "wagtail.contrib.redirects",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    # Scheduler job store
    "django_apscheduler",
    # Login throttling
    "axes",
    # GraphQL API (backend/api/) and its revocable refresh tokens
    "graphene_django",
    "graphql_jwt.refresh_token",
    # One FilterSet per list (backend/filtering.py); the app brings its translations
    "django_filters",
    # Django
    "backend.apps.MailerAdminConfig",  # django.contrib.admin with the superusers-only site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    # Outermost: every answer, probes and static files included, leaves with the browser policies.
    "backend.web.middleware.SecurityPolicyMiddleware",
    # Then: /healthz and /readyz answer before host validation, the HTTPS redirect, sessions.
    "backend.web.health.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.accounts.middleware.LogoutBlockedUsersMiddleware",
    "backend.web.middleware.UserTimezoneMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    # Gives a browser that logged in the device cookie that spares it the account lock.
    "backend.accounts.throttling.DeviceCookieMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
ASGI_APPLICATION = "backend.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data ---------------------------------------------------------------------------

VAR_DIR.mkdir(exist_ok=True)


def _database_from_env() -> dict:
    url = setting("str", "DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for a malformed URL
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
    engine = config.get("ENGINE", "")
    if engine not in {
        "django.db.backends.sqlite3",
        "django.db.backends.postgresql",
    }:
        raise ImproperlyConfigured(
            f"DATABASE_URL must use sqlite:// or postgres:// (got {url.split(':', 1)[0]!r})."
        )
    if engine == "django.db.backends.sqlite3":
        # Wait for a writer instead of failing with "database is locked" (web + scheduler share it).
        # WAL lets the web pages read while the sender writes; NORMAL syncs at checkpoints, not every commit.
        config.setdefault("OPTIONS", {}).update(
            {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
    else:
        config["CONN_MAX_AGE"] = setting("int", "CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
        # No JIT: its compilation is chosen by the planner's cost estimate, and a report's query whose
        # correlated counts are estimated over a million deliveries but never run (the totals are frozen)
        # spent 225 ms compiling for 0.2 ms of work. A URL's own `options` keeps its value.
        options = config.setdefault("OPTIONS", {})
        if "jit" not in options.get("options", ""):
            options["options"] = f"{options.get('options', '')} -c jit=off".strip()
    return config


DATABASES = {"default": _database_from_env()}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: tests start real sender processes that must see the same test database. One file
    # per test run, so two runs at once (or a developer's and an editor's) never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_db_{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = setting("str", "REDIS_URL", "")
if REDIS_URL:
    # django-redis behind backend/cache.py: an outage is logged once, when it starts and when it
    # ends, instead of a traceback per call, and calls fail at once for a few seconds after a failed one.
    _REDIS_OPTIONS = {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        "SOCKET_CONNECT_TIMEOUT": 1,
        "SOCKET_TIMEOUT": 1,
        "OUTAGE_RETRY_SECONDS": 5,
    }
    CACHES = {
        "default": {
            "BACKEND": "backend.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mailer",
            # A Redis outage degrades to uncached pages instead of a 500.
            "OPTIONS": {**_REDIS_OPTIONS, "IGNORE_EXCEPTIONS": True},
        },
        # The same keys for the login throttle, which must know when Redis is down (it then counts in the
        # database) rather than read every count as zero.
        "throttle": {
            "BACKEND": "backend.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mailer",
            "OPTIONS": {**_REDIS_OPTIONS, "IGNORE_EXCEPTIONS": False},
        },
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "mailer",
            "KEY_PREFIX": "mailer",
        }
    }

# --- Accounts -----------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses locked-out emails and addresses before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "backend.accounts.backends.EmailBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: its password_changed() hook revokes the account's API refresh tokens.
    {"NAME": "backend.accounts.validators.EndApiSessionsOnPasswordChange"},
]

# Phone verification by SMS (R-AUTH-8): "console" prints the code; "smsru" sends it through sms.ru.
SMS_BACKEND = setting("str", "SMS_BACKEND", "console")
if SMS_BACKEND not in {"console", "smsru"}:
    raise ImproperlyConfigured(f"SMS_BACKEND must be console or smsru (got {SMS_BACKEND!r}).")
SMSRU_API_ID = setting("str", "SMSRU_API_ID", "")
if SMS_BACKEND == "smsru" and not SMSRU_API_ID:
    raise ImproperlyConfigured("SMS_BACKEND=smsru needs SMSRU_API_ID.")
SMSRU_URL = setting("str", "SMSRU_URL", "https://sms.ru/sms/send")
SMS_TIMEOUT = setting("float", "SMS_TIMEOUT", 5.0)

# The emailed sign-up link stays valid this long (and works once).
EMAIL_VERIFICATION_DAYS = setting("float", "EMAIL_VERIFICATION_DAYS", 3.0)
PASSWORD_RESET_TIMEOUT = setting("int", "PASSWORD_RESET_TIMEOUT", 3 * 3600)
# A phone verification code: its lifetime in seconds and how many wrong tries it allows.
PHONE_CODE_SECONDS = setting("int", "PHONE_CODE_SECONDS", 600)
PHONE_CODE_TRIES = setting("int", "PHONE_CODE_TRIES", 5)
PHONE_CODES_PER_DAY = setting("int", "PHONE_CODES_PER_DAY", 5)  # per user and per number: SMS cost money
# Codes the whole service sends per UTC day (0 = no cap), and the countries (ISO 3166 codes)
# whose numbers may get one: SMS pumping pays through premium numbers abroad, so only Russia unless widened;
# "*" allows every country. Counted in the database, so every web process shares the counts.
SMS_DAILY_LIMIT = setting("int", "SMS_DAILY_LIMIT", 200)
SMS_ALLOWED_COUNTRIES = [code.upper() for code in setting("list", "SMS_ALLOWED_COUNTRIES", ["RU"])]
if SMS_ALLOWED_COUNTRIES != ["*"]:
    import phonenumbers

    _unknown_countries = sorted(set(SMS_ALLOWED_COUNTRIES) - phonenumbers.SUPPORTED_REGIONS)
    if _unknown_countries:
        raise ImproperlyConfigured(
            "SMS_ALLOWED_COUNTRIES must be ISO 3166 country codes (e.g. RU,KZ) or * "
            f"(got {_unknown_countries})."
        )
# Account emails (sign-up, the link again, password reset, Wagtail's password reset) per hour,
# per recipient address and per client address; 0 = no limit. Counted in the database like the SMS.
ACCOUNT_EMAILS_PER_RECIPIENT = setting("int", "ACCOUNT_EMAILS_PER_RECIPIENT", 3)
ACCOUNT_EMAILS_PER_CLIENT = setting("int", "ACCOUNT_EMAILS_PER_CLIENT", 20)
# Account emails wait in the database (accounts_accountemail) for the scheduler to send them;
# rows that are done (sent, nothing to send, failed) are deleted this many days later.
ACCOUNT_EMAIL_KEEP_DAYS = setting("int", "ACCOUNT_EMAIL_KEEP_DAYS", 7)
if ACCOUNT_EMAIL_KEEP_DAYS < 0:
    raise ImproperlyConfigured("ACCOUNT_EMAIL_KEEP_DAYS must be 0 or more.")
# The per-recipient delivery log (deliveries and their attempts) of a send finished this many days ago is
# deleted by the scheduler's daily clean-up; the send's counts stay (R-DATA-4). 0 keeps it for ever.
DELIVERY_LOG_DAYS = setting("int", "DELIVERY_LOG_DAYS", 90)
# At least the 30 days the dashboards' per-day chart reads from the attempt log.
if DELIVERY_LOG_DAYS != 0 and DELIVERY_LOG_DAYS < 30:
    raise ImproperlyConfigured("DELIVERY_LOG_DAYS must be 0 (keep for ever) or 30 or more.")
# Opens and clicks (R-ENG-2, mailings/tracking): with Redis, the endpoints' events wait in a Redis list and
# the scheduler stores them this many at a time (one insert per batch).
TRACKING_DRAIN_BATCH = setting("int", "TRACKING_DRAIN_BATCH", 1000)
if TRACKING_DRAIN_BATCH < 1:
    raise ImproperlyConfigured("TRACKING_DRAIN_BATCH must be at least 1.")

# Login throttling (django-axes; the policy is in backend/accounts/throttling.py): a failure
# counts for the (email, address) pair, the address and the account, each with its own limit within the
# cool-off. Counted in Redis when REDIS_URL is set (shared by every process, cheap); otherwise in the
# database, since a local-memory cache would count per process.
AXES_HANDLER = (
    "backend.accounts.throttling.CacheLoginThrottle"
    if REDIS_URL
    else "backend.accounts.throttling.DatabaseLoginThrottle"
)
AXES_CACHE = "throttle" if REDIS_URL else "default"
AXES_FAILURE_LIMIT = setting("int", "AXES_FAILURE_LIMIT", 5)  # one email from one address
AXES_IP_FAILURE_LIMIT = setting("int", "AXES_IP_FAILURE_LIMIT", 50)  # one address, any emails
AXES_ACCOUNT_FAILURE_LIMIT = setting("int", "AXES_ACCOUNT_FAILURE_LIMIT", 20)  # one account, any addresses
if min(AXES_FAILURE_LIMIT, AXES_IP_FAILURE_LIMIT, AXES_ACCOUNT_FAILURE_LIMIT) < 1:
    raise ImproperlyConfigured(
        "AXES_FAILURE_LIMIT, AXES_IP_FAILURE_LIMIT and AXES_ACCOUNT_FAILURE_LIMIT must each be at least 1."
    )
AXES_COOLOFF_TIME = dt.timedelta(minutes=setting("float", "AXES_COOLOFF_MINUTES", 15.0))
AXES_LOCKOUT_PARAMETERS = "backend.accounts.throttling.lockout_parameters"
AXES_USERNAME_CALLABLE = "backend.accounts.throttling.login_key"
AXES_CLIENT_IP_CALLABLE = "backend.accounts.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "backend.accounts.throttling.lockout_response"
# A refused attempt is not counted again: otherwise one address could push an account's count to its limit.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Off: axes's own reset clears every failure of the email OR the address; the handlers above forgive
# only the failures of the pair that logged in.
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False
# Reverse proxies in front of Django that append to X-Forwarded-For: 0 = clients connect
# directly (REMOTE_ADDR); N = the N-th entry from the right is the client (throttling.client_ip).
TRUSTED_PROXY_COUNT = setting("int", "TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be 0 or more (got {TRUSTED_PROXY_COUNT}).")
# /readyz shows its report to `Authorization: Bearer <this>` or to loopback and private networks; to
# anyone else only its status (backend/web/health.py). Empty: no token opens it.
READYZ_TOKEN = setting("str", "READYZ_TOKEN", "")

# --- GraphQL API (backend/api/) ------------------------------------------------

GRAPHENE = {
    "SCHEMA": "backend.api.schema.schema",
    # Page size: a default and the cap; asking for more is an error (backend/api/core/pagination.py).
    "RELAY_CONNECTION_MAX_LIMIT": 100,
    "SCHEMA_OUTPUT": "graphql/schema.graphql",
    "SCHEMA_INDENT": 2,
}
# What one request may cost (backend/api/core/limits.py).
GRAPHQL_MAX_DEPTH = setting("int", "GRAPHQL_MAX_DEPTH", 10)
GRAPHQL_MAX_ALIASES = setting("int", "GRAPHQL_MAX_ALIASES", 30)
GRAPHQL_MAX_DOCUMENT_BYTES = setting("int", "GRAPHQL_MAX_DOCUMENT_BYTES", 20_000)
GRAPHQL_MAX_TOKENS = setting("int", "GRAPHQL_MAX_TOKENS", 5_000)
GRAPHQL_MAX_BATCH = setting("int", "GRAPHQL_MAX_BATCH", 10)
# Items nested lists may return in one document (pages times the pages around them).
GRAPHQL_MAX_NODES = setting("int", "GRAPHQL_MAX_NODES", 20_000)
# Fields in a document with every fragment spread expanded, checked before any other validation.
GRAPHQL_MAX_SELECTIONS = setting("int", "GRAPHQL_MAX_SELECTIONS", 2_000)
# Times one response name (alias or field) may appear in one selection, fragments and merges included.
GRAPHQL_MAX_FIELD_REPEATS = setting("int", "GRAPHQL_MAX_FIELD_REPEATS", 20)
# Characters of text one request's answers may hold together (a batch shares it).
GRAPHQL_MAX_RESPONSE_CHARS = setting("int", "GRAPHQL_MAX_RESPONSE_CHARS", 8_000_000)
# Access tokens are short-lived; refresh tokens are long-running, stored and revocable (revokeToken).
GRAPHQL_JWT = {
    "JWT_SECRET_KEY": JWT_SECRET_KEY,
    "JWT_VERIFY_EXPIRATION": True,
    "JWT_EXPIRATION_DELTA": dt.timedelta(seconds=setting("int", "JWT_ACCESS_TOKEN_SECONDS", 300)),
    "JWT_LONG_RUNNING_REFRESH_TOKEN": True,
    "JWT_REFRESH_EXPIRATION_DELTA": dt.timedelta(days=setting("float", "JWT_REFRESH_TOKEN_DAYS", 30.0)),
    "JWT_PAYLOAD_HANDLER": "backend.api.core.auth.jwt_payload",
    "JWT_AUTH_HEADER_PREFIX": "JWT",
}

DEMO_EMAIL = setting("str", "DEMO_EMAIL", "demo@example.com")
DEMO_PASSWORD = setting("str", "DEMO_PASSWORD", "demo-mailer-2026")
# A demo manager (the Managers group) with the same password; empty: none.
DEMO_MANAGER_EMAIL = setting("str", "DEMO_MANAGER_EMAIL", "manager@example.com")

# --- Email --------------------------------------------------------------------------

EMAIL_HOST = setting("str", "EMAIL_HOST", "")
EMAIL_PORT = setting("int", "EMAIL_PORT", 25)
EMAIL_HOST_USER = setting("str", "EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = setting("str", "EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = setting("bool", "EMAIL_USE_TLS", False)
EMAIL_USE_SSL = setting("bool", "EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive; set only one.")
EMAIL_TIMEOUT = setting("float", "EMAIL_TIMEOUT", 10.0)
# Send MAIL FROM, RCPT TO and DATA in one write when the server offers PIPELINING (RFC 2920); 0 to never.
EMAIL_PIPELINING = setting("bool", "EMAIL_PIPELINING", True)
DEFAULT_FROM_EMAIL = setting("str", "DEFAULT_FROM_EMAIL", "Mailer <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Sender identities (R-DLV-1, mailings/services/senders.py): how long a confirmation link works.
SENDER_CONFIRMATION_DAYS = setting("float", "SENDER_CONFIRMATION_DAYS", 3.0)
# Public sign-up forms (R-ENG-1, mailings/services/signups.py): how long a mailed confirmation link works;
# sign-up requests per hour for one address (to one owner) and from one visitor's IP address (0 = no limit);
# the largest request body the public sign-up endpoint reads, in bytes.
SIGNUP_CONFIRM_DAYS = setting("float", "SIGNUP_CONFIRM_DAYS", 7.0)
SIGNUP_REQUESTS_PER_ADDRESS = setting("int", "SIGNUP_REQUESTS_PER_ADDRESS", 3)
SIGNUP_REQUESTS_PER_IP = setting("int", "SIGNUP_REQUESTS_PER_IP", 20)
SIGNUP_MAX_BODY_BYTES = setting("int", "SIGNUP_MAX_BODY_BYTES", 8192)
if SIGNUP_CONFIRM_DAYS <= 0 or min(SIGNUP_REQUESTS_PER_ADDRESS, SIGNUP_REQUESTS_PER_IP) < 0:
    raise ImproperlyConfigured(
        "SIGNUP_CONFIRM_DAYS must be more than 0; SIGNUP_REQUESTS_PER_ADDRESS and SIGNUP_REQUESTS_PER_IP "
        "0 or more."
    )
if SIGNUP_MAX_BODY_BYTES < 1024:
    raise ImproperlyConfigured("SIGNUP_MAX_BODY_BYTES must be at least 1024.")
# Where "Check DNS" looks a sender domain's DKIM record up (R-DLV-2): resolvers' IP addresses; empty: the
# system's (/etc/resolv.conf). The port and the whole lookup's time limit apply to either.
DKIM_DNS_NAMESERVERS = setting("list", "DKIM_DNS_NAMESERVERS", [])
DKIM_DNS_PORT = setting("int", "DKIM_DNS_PORT", 53)
DKIM_DNS_TIMEOUT = setting("float", "DKIM_DNS_TIMEOUT", 5.0)
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    # No server configured: every sent message lands as a file a newcomer can open.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "outbox"

# --- Internationalisation and time --------------------------------------------------

LANGUAGE_CODE = setting("str", "LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = setting("str", "TIME_ZONE", "UTC")
if TIME_ZONE not in zoneinfo.available_timezones():
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not an IANA time zone name.")

# --- Static and media files ---------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(setting("str", "MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # The manifest needs `collectstatic` first, which a production release runs (Procfile);
        # DEBUG runs and tests serve straight from the source folders.
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security (switched on from the environment; defaults follow SITE_URL's scheme) -

_secure = _SITE_IS_HTTPS and not DEBUG
SECURE_SSL_REDIRECT = setting("bool", "SECURE_SSL_REDIRECT", _secure)
SESSION_COOKIE_SECURE = setting("bool", "SESSION_COOKIE_SECURE", _secure)
CSRF_COOKIE_SECURE = setting("bool", "CSRF_COOKIE_SECURE", _secure)
SECURE_HSTS_SECONDS = setting("int", "SECURE_HSTS_SECONDS", 31_536_000 if _secure else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = setting("bool", "SECURE_HSTS_INCLUDE_SUBDOMAINS", _secure)
SECURE_HSTS_PRELOAD = setting("bool", "SECURE_HSTS_PRELOAD", _secure)
if setting("bool", "USE_X_FORWARDED_PROTO", False):
    # Only behind a proxy that sets the header itself; otherwise clients could spoof HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # Wagtail previews override this per view

# Content-Security-Policy on every answer (backend/web/middleware.py): only this site's own files run or
# load; no inline script, no inline style, no plugin, no framing, no <base>, forms post here only.
# data: images are Bootstrap's (its CSS draws the select arrow and the navbar toggler as data: SVGs).
CSP_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
}
# Directives replaced under a path prefix, for pages whose code is not ours (see README, Security).
CSP_PATH_UPDATES = {
    # GraphiQL 2: its CSS embeds its fonts as data: URLs, and React/CodeMirror set style attributes.
    "/graphql/": {"font-src": ["'self'", "data:"]},
    # Wagtail's admin: its widgets write inline <script>s (date and image choosers), its modals run the
    # scripts of the HTML they load, its editor adds <style> elements; its preview panel frames /cms/.
    "/cms/": {
        "script-src": ["'self'", "'unsafe-inline'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "frame-ancestors": ["'self'"],
    },
}
# Where browsers POST violation reports (a URL, absolute or on this site); empty: no reports.
CSP_REPORT_URI = setting("str", "CSP_REPORT_URI", "")
# 1 sends the policy as Content-Security-Policy-Report-Only: violations are reported, nothing is blocked.
CSP_REPORT_ONLY = setting("bool", "CSP_REPORT_ONLY", False)
# No page uses a device or a payment API: refuse them all, for this site and anything it would embed.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)

# --- Wagtail ------------------------------------------------------------------------

WAGTAIL_SITE_NAME = "Mailer"
WAGTAIL_GRAVATAR_PROVIDER_URL = None  # no requests to gravatar.com: the admin works offline
# Nor to releases.wagtail.org: the dashboard's "new version" check (which the CSP's connect-src refuses).
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAILADMIN_BASE_URL = SITE_URL
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "txt", "xlsx"]
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB) are written to a temporary file while they
# arrive, never held in memory; DATA_UPLOAD_MAX_MEMORY_SIZE does not count files. A clients file larger than
# csv_io.MAX_IMPORT_BYTES (or with more rows than csv_io.MAX_IMPORT_ROWS) is moved into MAILER_IMPORT_DIR and
# imported by the scheduler in the background, up to these limits (R-AUD-3).
MAILER_IMPORT_DIR = Path(setting("str", "MAILER_IMPORT_DIR", str(VAR_DIR / "imports")))
MAILER_IMPORT_MAX_MB = setting("int", "MAILER_IMPORT_MAX_MB", 200)
MAILER_IMPORT_MAX_ROWS = setting("int", "MAILER_IMPORT_MAX_ROWS", 1_000_000)
# Seconds a scheduler holds an import without renewing its lease; a crashed run is picked up after it.
MAILER_IMPORT_LEASE_SECONDS = setting("float", "MAILER_IMPORT_LEASE_SECONDS", 120.0)
FILE_UPLOAD_TEMP_DIR = setting("str", "FILE_UPLOAD_TEMP_DIR", None)

# --- Scheduler ----------------------------------------------------------------------

APSCHEDULER_DATETIME_FORMAT = "N j, Y, f:s a"
APSCHEDULER_RUN_NOW_TIMEOUT = 25
# How often the scheduler looks for due mailings (seconds).
# Bounces and complaints are read back at bounces+<token>@BOUNCE_DOMAIN (mailings/verp.py, R-DLV-3); unset:
# the envelope sender is the operator's address and nothing is read back.
BOUNCE_DOMAIN = setting("str", "BOUNCE_DOMAIN", "").strip().lower()
BOUNCE_LOCAL_PART = setting("str", "BOUNCE_LOCAL_PART", "bounces").strip().lower()
if "+" in BOUNCE_LOCAL_PART or "@" in BOUNCE_LOCAL_PART or not BOUNCE_LOCAL_PART:
    raise ImproperlyConfigured("BOUNCE_LOCAL_PART must be a plain local part (no + or @).")
# Reading bounces back (`manage.py runbounces`, mailings/bounces/, docs/bounces.md).
# A mail is kept (and parsed) up to this many bytes; the rest is cut and the row marked truncated.
BOUNCE_RAW_MAX_BYTES = setting("int", "BOUNCE_RAW_MAX_BYTES", 10 * 1024 * 1024)
# A mail that names none of our deliveries (spam, a stray) is kept up to this many bytes only.
BOUNCE_UNMATCHED_MAX_BYTES = setting("int", "BOUNCE_UNMATCHED_MAX_BYTES", 64 * 1024)
# This many soft bounces of one client within BOUNCE_SOFT_DAYS days count as a hard one.
BOUNCE_SOFT_LIMIT = setting("int", "BOUNCE_SOFT_LIMIT", 3)
BOUNCE_SOFT_DAYS = setting("int", "BOUNCE_SOFT_DAYS", 30)
# Days the raw mail of a bounce is kept for a person to read (the row itself stays); 0 keeps it for ever.
BOUNCE_RAW_DAYS = setting("int", "BOUNCE_RAW_DAYS", 30)
# The inbound SMTP endpoint (host:port; empty: none) and the largest mail it takes: at most
# BOUNCE_RAW_MAX_BYTES (its default), so that a mail answered 250 is never stored cut.
BOUNCE_SMTP_LISTEN = setting("str", "BOUNCE_SMTP_LISTEN", "127.0.0.1:2525")
BOUNCE_SMTP_MAX_BYTES = setting("int", "BOUNCE_SMTP_MAX_BYTES", BOUNCE_RAW_MAX_BYTES)
# SMTP sessions open at once; one more is answered 421 (the sender retries later).
BOUNCE_SMTP_MAX_SESSIONS = setting("int", "BOUNCE_SMTP_MAX_SESSIONS", 20)
# An IMAP mailbox to poll (empty host: none). A mail is marked seen, or moved to BOUNCE_IMAP_DONE_FOLDER,
# only once stored; deleted only with BOUNCE_IMAP_DELETE, and then only once stored.
BOUNCE_IMAP_HOST = setting("str", "BOUNCE_IMAP_HOST", "")
BOUNCE_IMAP_PORT = setting("int", "BOUNCE_IMAP_PORT", 993)
BOUNCE_IMAP_SSL = setting("bool", "BOUNCE_IMAP_SSL", True)
BOUNCE_IMAP_USER = setting("str", "BOUNCE_IMAP_USER", "")
BOUNCE_IMAP_PASSWORD = setting("str", "BOUNCE_IMAP_PASSWORD", "")
BOUNCE_IMAP_FOLDER = setting("str", "BOUNCE_IMAP_FOLDER", "INBOX")
BOUNCE_IMAP_DONE_FOLDER = setting("str", "BOUNCE_IMAP_DONE_FOLDER", "")
BOUNCE_IMAP_DELETE = setting("bool", "BOUNCE_IMAP_DELETE", False)
BOUNCE_IMAP_POLL_SECONDS = setting("int", "BOUNCE_IMAP_POLL_SECONDS", 60)
if BOUNCE_RAW_MAX_BYTES < 64 * 1024 or BOUNCE_SMTP_MAX_BYTES < 64 * 1024:
    raise ImproperlyConfigured("BOUNCE_RAW_MAX_BYTES and BOUNCE_SMTP_MAX_BYTES must be at least 65536.")
if BOUNCE_SMTP_MAX_BYTES > BOUNCE_RAW_MAX_BYTES:
    raise ImproperlyConfigured(
        f"BOUNCE_SMTP_MAX_BYTES ({BOUNCE_SMTP_MAX_BYTES}) must not exceed BOUNCE_RAW_MAX_BYTES "
        f"({BOUNCE_RAW_MAX_BYTES}): the endpoint would accept mail it then stores cut. Leave it unset to "
        "take BOUNCE_RAW_MAX_BYTES."
    )
if BOUNCE_UNMATCHED_MAX_BYTES < 0 or BOUNCE_SMTP_MAX_SESSIONS < 1:
    raise ImproperlyConfigured(
        "BOUNCE_UNMATCHED_MAX_BYTES must be 0 or more, BOUNCE_SMTP_MAX_SESSIONS 1 or more."
    )
if BOUNCE_SOFT_LIMIT < 1 or BOUNCE_SOFT_DAYS < 1 or BOUNCE_RAW_DAYS < 0 or BOUNCE_IMAP_POLL_SECONDS < 1:
    raise ImproperlyConfigured(
        "BOUNCE_SOFT_LIMIT, BOUNCE_SOFT_DAYS and BOUNCE_IMAP_POLL_SECONDS must be 1 or more; "
        "BOUNCE_RAW_DAYS 0 (keep for ever) or more."
    )
# Every message is DKIM-signed with the operator's key (mailings/signing.py, R-DLV-2) when these are set: the
# d= domain, the s= selector and a PEM private key file (RSA or Ed25519; `manage.py dkim_keygen` makes one).
# The file is read once when a process starts; a bad one stops the start.
DKIM_DOMAIN = setting("str", "DKIM_DOMAIN", "").strip().lower().rstrip(".")
DKIM_SELECTOR = setting("str", "DKIM_SELECTOR", "mailer").strip()
DKIM_PRIVATE_KEY_FILE = setting("str", "DKIM_PRIVATE_KEY_FILE", "")
# Message-IDs on the operator's domain, never an owner's: this, else DKIM_DOMAIN, else DEFAULT_FROM_EMAIL's.
MESSAGE_ID_DOMAIN = (
    setting("str", "MESSAGE_ID_DOMAIN", "").strip().lower().rstrip(".")
    or DKIM_DOMAIN
    or DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >").lower()
    or "localhost"
)

MAILER_TICK_SECONDS = setting("int", "MAILER_TICK_SECONDS", 5)
# The sending engine (backend/mailings/sending/): see .env.example for each.
MAILER_SEND_WORKERS = setting("int", "MAILER_SEND_WORKERS", 4)
MAILER_MAX_ATTEMPTS = setting("int", "MAILER_MAX_ATTEMPTS", 5)
MAILER_RETRY_BASE_SECONDS = setting("float", "MAILER_RETRY_BASE_SECONDS", 60.0)
MAILER_RETRY_MAX_SECONDS = setting("float", "MAILER_RETRY_MAX_SECONDS", 6 * 3600.0)
MAILER_RATE_LIMIT = setting("float", "MAILER_RATE_LIMIT", 0.0)
MAILER_CLAIM_BATCH = setting("int", "MAILER_CLAIM_BATCH", 100)
MAILER_CLAIM_LEASE_SECONDS = setting("float", "MAILER_CLAIM_LEASE_SECONDS", 300.0)
MAILER_RECORD_BATCH = setting("int", "MAILER_RECORD_BATCH", 10)
MAILER_BREAKER_THRESHOLD = setting("int", "MAILER_BREAKER_THRESHOLD", 5)
MAILER_BREAKER_COOLDOWN_SECONDS = setting("float", "MAILER_BREAKER_COOLDOWN_SECONDS", 60.0)
# Seconds a scheduler has, after SIGTERM/SIGINT, to finish the messages in flight, give back the rest of its
# leases and exit (platforms send SIGKILL 10-30 s after SIGTERM).
MAILER_STOP_SECONDS = setting("float", "MAILER_STOP_SECONDS", 10.0)
# PostgreSQL: wait for the disk on every "sent" mark (1), or let PostgreSQL flush them within a fraction
# of a second (0, the default). Either way a killed sender loses nothing (the marks are committed); with 0
# a crash of PostgreSQL itself may forget the last ~0.6 s of marks, so those messages would be sent again.
MAILER_SYNCHRONOUS_COMMIT = setting("bool", "MAILER_SYNCHRONOUS_COMMIT", False)
for _name in (
    "MAILER_SEND_WORKERS",
    "MAILER_MAX_ATTEMPTS",
    "MAILER_CLAIM_BATCH",
    "MAILER_RECORD_BATCH",
    "MAILER_TICK_SECONDS",
    "MAILER_IMPORT_MAX_MB",
    "MAILER_IMPORT_MAX_ROWS",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
if MAILER_STOP_SECONDS <= 0:
    raise ImproperlyConfigured("MAILER_STOP_SECONDS must be more than 0.")

# Sending quotas and automatic protection (R-DLV-5, mailings/limits.py, docs/quotas.md). Messages an owner may
# hand to the SMTP server per day (their own time zone's calendar day); 0 = no limit.
SEND_QUOTA_DAILY = setting("int", "SEND_QUOTA_DAILY", 10000)
# The quota of an account younger than SEND_QUOTA_NEW_ACCOUNT_DAYS days (0 = no limit of its own).
SEND_QUOTA_NEW_ACCOUNT_DAILY = setting("int", "SEND_QUOTA_NEW_ACCOUNT_DAILY", 200)
SEND_QUOTA_NEW_ACCOUNT_DAYS = setting("int", "SEND_QUOTA_NEW_ACCOUNT_DAYS", 7)
# Share of an owner's recent sends that bounced (or drew a complaint) above which their sending is paused.
BOUNCE_RATE_THRESHOLD = setting("float", "BOUNCE_RATE_THRESHOLD", 0.05)
COMPLAINT_RATE_THRESHOLD = setting("float", "COMPLAINT_RATE_THRESHOLD", 0.001)
# The review reads an owner's last SEND_REVIEW_WINDOW sent messages of the last SEND_REVIEW_DAYS days, and
# judges nobody on fewer than SEND_REVIEW_MIN_SENT of them; it runs every SEND_REVIEW_MINUTES.
SEND_REVIEW_WINDOW = setting("int", "SEND_REVIEW_WINDOW", 500)
SEND_REVIEW_DAYS = setting("int", "SEND_REVIEW_DAYS", 30)
SEND_REVIEW_MIN_SENT = setting("int", "SEND_REVIEW_MIN_SENT", 100)
SEND_REVIEW_MINUTES = setting("int", "SEND_REVIEW_MINUTES", 5)
for _name in ("SEND_QUOTA_DAILY", "SEND_QUOTA_NEW_ACCOUNT_DAILY", "SEND_QUOTA_NEW_ACCOUNT_DAYS"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 or more.")
for _name in ("SEND_REVIEW_WINDOW", "SEND_REVIEW_DAYS", "SEND_REVIEW_MIN_SENT", "SEND_REVIEW_MINUTES"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
for _name in ("BOUNCE_RATE_THRESHOLD", "COMPLAINT_RATE_THRESHOLD"):
    if not 0 < globals()[_name] <= 1:
        raise ImproperlyConfigured(f"{_name} must be a share above 0 and at most 1 (e.g. 0.05).")

# --- Logging ------------------------------------------------------------------------

# Every log line in one format (backend/logs.py): "plain" for people, "json" (one object per line) for a log
# pipeline. Both escape control characters, e.g. those in an SMTP server's answer.
LOG_FORMAT = setting("str", "LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json (got {LOG_FORMAT!r}).")
LOGGING = logging_config(log_format=LOG_FORMAT, level=setting("str", "LOG_LEVEL", "INFO"))
