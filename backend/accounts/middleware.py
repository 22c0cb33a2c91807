"""A user blocked (or deactivated) while signed in is signed out on their very next request (R-AUTH-5)."""

from django.contrib import messages
from django.contrib.auth import logout
from django.utils.translation import gettext as _

from . import roles


class LogoutBlockedUsersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not roles.may_act(user):
            logout(request)
            messages.error(request, _("Your account is blocked. Contact the service's managers."))
        return self.get_response(request)
