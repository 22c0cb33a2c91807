"""Request-wide behaviour of the site's pages: the user's own time zone, and the browser security policies
(Content-Security-Policy and Permissions-Policy) on every response."""

import zoneinfo

from django.conf import settings
from django.utils import timezone


class UserTimezoneMiddleware:
    """Show every time in the signed-in user's own time zone (times are stored in UTC)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        tz_name = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        try:
            if tz_name:
                timezone.activate(zoneinfo.ZoneInfo(tz_name))
            else:
                timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        return self.get_response(request)


CSP_HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def policy_for(path: str, update: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """The policy an answer at `path` gets: the site's, with the directives of every matching path
    exception (`CSP_PATH_UPDATES`, longest prefix last), then those the view put in its answer's
    `csp_update` attribute (a page that needs more than the rest, e.g. the message preview's frame)."""
    policy = dict(settings.CSP_POLICY)
    for prefix, directives in sorted(settings.CSP_PATH_UPDATES.items(), key=lambda item: len(item[0])):
        if path.startswith(prefix):
            policy.update(directives)
    policy.update(update or {})
    return policy


def policy_header(policy: dict[str, list[str]]) -> str:
    parts = [" ".join([name, *values]) for name, values in policy.items()]
    if settings.CSP_REPORT_URI:
        parts.append(f"report-uri {settings.CSP_REPORT_URI}")
    return "; ".join(parts)


class SecurityPolicyMiddleware:
    """Sets Content-Security-Policy (or its -Report-Only form while `CSP_REPORT_ONLY` is on) and
    Permissions-Policy on every answer, health probes and static files included, unless the answer set its
    own. First in the chain, so nothing answers without them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "is_dummy", False):
            # Wagtail's preview runs the chain again for a made-up request to the page's public URL; the
            # real answer (under /cms/, framed by the editor) gets the policy of its own path.
            return response
        if not any(name in response for name in CSP_HEADERS):
            header = CSP_HEADERS[1] if settings.CSP_REPORT_ONLY else CSP_HEADERS[0]
            update = getattr(response, "csp_update", None)
            response[header] = policy_header(policy_for(request.path_info, update))
        if settings.PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.PERMISSIONS_POLICY
        return response
