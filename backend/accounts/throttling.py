"""What django-axes counts failed logins by: the email as the database compares it (any letter case)."""

from django.http import HttpRequest


def login_key(request: HttpRequest, credentials: dict | None) -> str:
    credentials = credentials or {}
    value = credentials.get("username") or credentials.get("email") or request.POST.get("username", "")
    return str(value).strip().lower()
