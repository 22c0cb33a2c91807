"""What django-axes counts failed logins by (R-AUTH, login throttling).

An email that belongs to an account counts by the account, exactly as the database matches it (any letter
case, and Unicode look-alikes the database folds the same way, such as a long s for "s"); an unknown email
counts by its case-folded text.
"""

from django.http import HttpRequest

from .models import User


def login_key(request: HttpRequest, credentials: dict | None) -> str:
    credentials = credentials or {}
    value = str(credentials.get("username") or credentials.get("email") or request.POST.get("username", ""))
    email = User.objects.normalize_email(value)
    user_id = User.objects.filter(email__iexact=email).values_list("pk", flat=True).first() if email else None
    return f"user:{user_id}" if user_id else email.casefold()


def client_ip(request: HttpRequest) -> str:
    """Behind a reverse proxy (USE_X_FORWARDED_PROTO=1) the client is the last X-Forwarded-For entry, the one
    our own proxy appended; counting REMOTE_ADDR there would put every visitor under one lock."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")
