"""/manager/ (R-AUTH-5, R-UI-8): the managers' dashboard.

The view renders the page's frame only: which tabs the viewer's role offers (from the domain's predicates),
the GraphQL operations and the viewer's time zone. Every figure and row comes from /graphql/ in the browser
(static/js/manager.js with graphql/operations/manager*.graphql), so the dashboard runs on the API it offers
and the API alone decides what a manager may see and do.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View

from backend.accounts import roles

from .mailings import mailing_choices

# The operations the page embeds, in the order the page needs them.
OPERATIONS = (
    "managerStats",
    "managerMailings",
    "managerUsers",
    "managerDisableMailing",
    "managerEnableMailing",
    "managerBlockUser",
    "managerUnblockUser",
    "managerNeedsReview",
    "managerResumeSending",
    "managerBlockSender",
    "managerSetSendQuota",
)


class ManagerDashboard(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not roles.has_manager_page(request.user):
            raise PermissionDenied(_("This page is for the service's managers."))
        context = {
            "can_view_mailings": roles.sees_all_mailings(request.user),
            "can_manage_users": roles.sees_all_users(request.user),
            # The senders paused on their bounce or complaint rate, and quotas (R-DLV-5).
            "can_review_senders": roles.may_block_users(request.user),
            "can_revoke_senders": roles.may_revoke_senders(request.user),
            "operations": OPERATIONS,
            "time_zone": request.user.time_zone,
            "mailing_choices": mailing_choices(),
        }
        return render(request, "web/manager.html", context)
