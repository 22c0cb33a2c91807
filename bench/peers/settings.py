"""Minimal Django settings for the django-post_office peer in `bench/send_throughput.py --peers`.

Only post_office and what it needs, so the project's INSTALLED_APPS never carry a benchmark peer. The parent
passes everything through the environment: PEER_DATABASE_URL (a throw-away database it creates and drops),
EMAIL_HOST/EMAIL_PORT (the shared SMTP sink), PEER_BATCH_SIZE and PEER_THREADS (post_office's two knobs;
its processes are a command-line argument).
"""

import os

import environ

SECRET_KEY = "bench-peer-" + os.urandom(16).hex()
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["django.contrib.contenttypes", "post_office"]
DATABASES = {"default": environ.Env.db_url_config(os.environ["PEER_DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# post_office renders every subject and body through Django's template engine, even without a context.
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
# With PEER_DKIM_KEY_FILE (`--peer-signing`), every message is DKIM-signed as the engine signs its own.
EMAIL_BACKEND = (
    "bench.peers.signing_backend.SigningEmailBackend"
    if os.environ.get("PEER_DKIM_KEY_FILE")
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_TIMEOUT = 10
POST_OFFICE = {
    "BATCH_SIZE": int(os.environ.get("PEER_BATCH_SIZE", "100")),
    "THREADS_PER_PROCESS": int(os.environ.get("PEER_THREADS", "5")),
    # post_office's default: a Log row for every attempt, sent or failed, like the engine's DeliveryAttempt.
    "LOG_LEVEL": 2,
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
