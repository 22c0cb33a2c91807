"""System checks for the accounts' settings (run by every manage.py command and by `check`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security)
def proxy_without_a_trusted_proxy_count(app_configs, **kwargs) -> list[Warning]:
    """Upgrade hazard: USE_X_FORWARDED_PROTO=1 used to make the last X-Forwarded-For entry the
    client; now TRUSTED_PROXY_COUNT does, with 0 (REMOTE_ADDR) by default. Behind a proxy left at 0 every
    request counts as the proxy's address, so one client could lock every login and use up every account's
    emails."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and settings.TRUSTED_PROXY_COUNT == 0:
        return [
            Warning(
                "USE_X_FORWARDED_PROTO is on but TRUSTED_PROXY_COUNT is 0, so every request counts as coming "
                "from the proxy's address (one client could lock every login).",
                hint="Set TRUSTED_PROXY_COUNT to the number of reverse proxies that append to "
                "X-Forwarded-For (1 behind one nginx).",
                id="mailer.W001",
            )
        ]
    return []
