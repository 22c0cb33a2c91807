"""/dashboard/: where an owner lands after logging in."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from backend.accounts import roles
from backend.mailings import limits, selectors

from .generic import OwnerPageMixin


class Dashboard(OwnerPageMixin, View):
    """The owner's counts, next sends (shown in their time zone by the time-zone middleware) and recent
    failures, all from `selectors.owner_dashboard` in a fixed number of queries."""

    def get(self, request: HttpRequest) -> HttpResponse:
        dashboard = selectors.owner_dashboard(request.user)
        context = {
            "dashboard": dashboard,
            "failure_days": selectors.RECENT_FAILURES_DAYS,
            "relay_answers": roles.sees_relay_answers(request.user),
            "quota": limits.quota_status(request.user),
        }
        return render(request, "web/dashboard.html", context)
