"""Login throttling (R-AUTH): the policy on top of django-axes.

Every failed login counts in three scopes at once; each scope has its own limit, and reaching any one of them
refuses logins in that scope until its count runs out. In both handlers a count runs out one cool-off
(``AXES_COOLOFF_MINUTES``) after its first failure, and later failures never extend it: each failure counts
for at most one cool-off, so failures that keep coming less than a cool-off apart cannot add up for ever
(found in review: the cache handler refreshed the expiry on every failure, and axes's rows did too):

=====================  ==============================  ============================================
scope                  limit (default)                 what it stops
=====================  ==============================  ============================================
account AND address    ``AXES_FAILURE_LIMIT`` (5)      guessing one account's password from one place
address                ``AXES_IP_FAILURE_LIMIT`` (50)  one place guessing at many accounts
account                ``AXES_ACCOUNT_FAILURE_LIMIT``  many places guessing at one account
                       (20)
=====================  ==============================  ============================================

So typos on a shared address (an office, a developer's machine) lock only the (email, address) pair typed,
never the other accounts used there. A login refused by a lock is not counted again
(``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT`` off), so one address adds at most ``AXES_FAILURE_LIMIT``
failures per cool-off to an account's count: a stranger needs several addresses to lock an account, and its
owner lifts that lock by setting a new password through the emailed reset link, because the account's key
(`login_key`) includes a digest of the password hash: a new password starts new counts.

Several addresses are easy to have (IPv6 gives anyone many), so the account count alone would let a stranger
keep the owner out, and re-lock the account in seconds after a reset. Hence the device cookie (OWASP's
"device cookies"): every successful login, and a password change, leaves a signed cookie (``mailer_device``:
a digest of the account's pk and password hash, salted apart from the counting key, and a random nonce;
HttpOnly, SameSite=Lax, Secure when ``SESSION_COOKIE_SECURE``, 180 days). A login into that same account from
a browser carrying it, unexpired and made with the current password, is not refused by the ACCOUNT count; the
pair and address counts still apply. Failures made with a valid cookie are also counted per nonce (cache key
``device-fail:<nonce>``, expiring with the cool-off) and the cookie spares nothing once that count reaches
``AXES_FAILURE_LIMIT``: a copied cookie gets that many guesses per cool-off from all addresses together, not
that many per address (both handlers keep that count in Django's cache; without Redis that is the
local-memory cache, so each process counts apart). Its failures still add to the account count. A cookie of
another account, altered, older than 180 days, or made before a password change spares nothing, and it names
no account: it only records that this browser once knew this password.

A successful login forgives the failures of its own (account, address) pair only, in every scope they were
counted in; it never clears another account's failures, nor the address's failures at other accounts
(with axes's own reset, logging into one's own account wiped every failure from that address). Parallel
successful logins forgive the pair once, and no count goes below zero (found in review: each of them
subtracted the pair's count from the address's, so an attacker could wipe it at will).

Any caller of ``django.contrib.auth.authenticate(request, ...)`` goes through the same counts and locks: the
first authentication backend (``AxesStandaloneBackend``) refuses a locked request before any password is
checked, and Django's ``user_login_failed`` signal counts the failure, with the email passed as ``username``
or ``email``. The GraphQL ``tokenAuth`` must therefore pass the request (``info.context``) to
``authenticate``; when it returns None, ``request.axes_locked_out`` tells a lock from a wrong password. A
success is forgiven on ``user_logged_in``, which ``django.contrib.auth.login`` sends; a token login that does
not call ``login`` sends that signal itself, or its pair's typos simply expire with the cool-off.

Redis down: the cache handler reads its counts through a cache alias that raises instead of
answering zero (``AXES_CACHE``, settings). While Redis cannot be reached it counts failures in the database,
as the database handler does, and every check adds those rows to the cache's counts: an outage neither lets
guesses through uncounted nor forgets what it counted when Redis is back. The device-cookie exemption needs
its per-nonce count, so while that count cannot be read the cookie spares nothing.
"""

import functools
import ipaddress
import math
import operator
import secrets

from axes.attempts import get_cool_off_threshold
from axes.handlers.cache import AxesCacheHandler
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import (
    get_cache,
    get_cache_timeout,
    get_client_cache_keys,
    get_client_parameters,
    get_client_username,
    get_cool_off,
    get_credentials,
    get_query_str,
)
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.core import signing
from django.db import router, transaction
from django.db.models import F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare, salted_hmac

from backend.cache import CACHE_DOWN_ERRORS

from .models import User

# The scopes a failure counts in, each with the setting that holds its limit. axes keeps one count per entry
# of AXES_LOCKOUT_PARAMETERS, in this order; the pair comes first (see `_ScopedLimits.forgive_pair`).
SCOPES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("username", "ip_address"), "AXES_FAILURE_LIMIT"),
    (("ip_address",), "AXES_IP_FAILURE_LIMIT"),
    (("username",), "AXES_ACCOUNT_FAILURE_LIMIT"),
)


def lockout_parameters(request_or_attempt, credentials: dict | None = None) -> list[list[str]]:
    """AXES_LOCKOUT_PARAMETERS: one count per scope."""
    return [list(parameters) for parameters, _ in SCOPES]


def scope_limits() -> list[int]:
    return [getattr(settings, name) for _, name in SCOPES]


def _typed_email(request: HttpRequest, credentials: dict | None) -> str:
    credentials = credentials or {}
    value = str(credentials.get("username") or credentials.get("email") or request.POST.get("username", ""))
    return User.objects.normalize_email(value)


def _account(email: str) -> tuple[int, str] | None:
    """The (pk, password hash) of the account an email logs into, exactly as the database matches it (any
    letter case, and Unicode look-alikes the database folds the same way, such as a long s for "s")."""
    return User.objects.filter(email__iexact=email).values_list("pk", "password").first() if email else None


def _password_digest(purpose: str, password_hash: str) -> str:
    return salted_hmac(f"mailer.accounts.throttling{purpose}", password_hash).hexdigest()[:16]


def login_key(request: HttpRequest, credentials: dict | None) -> str:
    """What a failure counts by (AXES_USERNAME_CALLABLE). An email that belongs to an account counts by the
    account and by its current password: a new password starts new counts. An unknown email counts by its
    case-folded text."""
    email = _typed_email(request, credentials)
    found = _account(email)
    if found is None:
        return email.casefold()
    user_id, password_hash = found
    return f"user:{user_id}:{_password_digest('', password_hash)}"


# The device cookie (OWASP's "device cookies"): a successful login leaves in that browser a
# signed cookie with a digest of the account's pk and password hash, under its own salt (the cookie names no
# account and does not reveal the counting key), and a random nonce: proof that this browser once knew the
# account's current password. It exempts logins into that account from the ACCOUNT count only, never from the
# pair or address counts, and only while the failures made with it (counted per nonce) stay under
# AXES_FAILURE_LIMIT.
DEVICE_COOKIE = "mailer_device"
DEVICE_COOKIE_SALT = "mailer.accounts.throttling.device"
DEVICE_COOKIE_MAX_AGE = 180 * 24 * 60 * 60


def _device_digest(user_id: int, password_hash: str) -> str:
    return _password_digest(".device", f"{user_id}:{password_hash}")


def device_cookie_value(user) -> str:
    return signing.dumps(
        [_device_digest(user.pk, user.password), secrets.token_urlsafe(16)], salt=DEVICE_COOKIE_SALT
    )


def remember_device(request: HttpRequest, user) -> None:
    """Marks the response to this request to carry a fresh device cookie for `user` (DeviceCookieMiddleware):
    after a login, and after a password change, which makes the old cookie stale."""
    request.mailer_device_cookie = device_cookie_value(user)


def _device_failures_key(nonce: str) -> str:
    return f"device-fail:{nonce}"


def device_nonce(request: HttpRequest, credentials: dict | None) -> str | None:
    """The nonce of the request's device cookie if the cookie is valid: at most DEVICE_COOKIE_MAX_AGE old, and
    left by a successful login into the very account being logged into, with the password it has now."""
    cookie = getattr(request, "COOKIES", {}).get(DEVICE_COOKIE)
    if not cookie:
        return None
    try:
        digest, nonce = signing.loads(cookie, salt=DEVICE_COOKIE_SALT, max_age=DEVICE_COOKIE_MAX_AGE)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    found = _account(_typed_email(request, credentials))
    if found is None or not constant_time_compare(str(digest), _device_digest(*found)):
        return None
    return str(nonce)


def count_device_failure(request: HttpRequest, credentials: dict | None) -> None:
    """A failure made with a valid device cookie counts for its nonce too (in the cache, for the cool-off),
    so that a copied cookie cannot guess from any number of addresses."""
    nonce = device_nonce(request, credentials)
    if nonce is None:
        return
    cache, key = get_cache(), _device_failures_key(nonce)
    try:
        if cache.add(key, 1, timeout=get_cache_timeout(request)):
            return
        cache.incr(key)
    except ValueError:  # expired since the add: this failure starts a new count
        cache.add(key, 1, timeout=get_cache_timeout(request))
    except CACHE_DOWN_ERRORS:  # uncounted, but `is_known_device` spares nothing while the cache is down
        return


def is_known_device(request: HttpRequest, credentials: dict | None) -> bool:
    """Whether the request carries a valid device cookie (see `device_nonce`) with fewer than
    AXES_FAILURE_LIMIT failures made with it in the cool-off."""
    nonce = device_nonce(request, credentials)
    if nonce is None:
        return False
    try:
        failures = get_cache().get(_device_failures_key(nonce), 0)
    except CACHE_DOWN_ERRORS:
        return False
    return failures < settings.AXES_FAILURE_LIMIT


class DeviceCookieMiddleware:
    """Sets the device cookie on the response to a request that logged someone in (marked by the handlers'
    ``user_logged_in``, whichever page called ``login``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        value = getattr(request, "mailer_device_cookie", None)
        if value:
            response.set_cookie(
                DEVICE_COOKIE,
                value,
                max_age=DEVICE_COOKIE_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


def client_ip(request: HttpRequest) -> str:
    """The client's address (AXES_CLIENT_IP_CALLABLE, and every per-client limit).

    Each of the TRUSTED_PROXY_COUNT proxies in front of Django appends the address it got the request from to
    X-Forwarded-For, so the N-th entry from the right is the address the outermost trusted proxy saw; entries
    further left were written by the client and are ignored. With fewer entries than N (a request that
    reached an inner proxy directly) every entry was written by a trusted proxy, and the leftmost is the
    farthest address one of them saw. With no proxies configured, no header, or an entry that is not an IP
    address, the address is REMOTE_ADDR.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    entries = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    entries = [entry for entry in entries if entry]
    if count <= 0 or not entries:
        return remote
    candidate = entries[-count] if len(entries) >= count else entries[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the lockout page, saying how long the pause lasts at most."""
    seconds = get_cool_off(request).total_seconds()
    response = render(
        request,
        "accounts/locked_out.html",
        {"minutes": max(1, math.ceil(seconds / 60))},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    response["Retry-After"] = str(math.ceil(seconds))
    return response


class _ScopedLimits:
    """What both handlers share: locked when any scope reaches its own limit; a success forgives its pair."""

    def scope_failures(self, request: HttpRequest, credentials: dict | None) -> list[int]:
        raise NotImplementedError

    def forgive_pair(self, request: HttpRequest, credentials: dict) -> None:
        raise NotImplementedError

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        # axes compares this one number with AXES_FAILURE_LIMIT, which is the pair's limit.
        return self.scope_failures(request, credentials)[0]

    def is_locked(self, request: HttpRequest, credentials: dict | None = None) -> bool:
        if not settings.AXES_LOCK_OUT_AT_FAILURE:
            return False
        counts = self.scope_failures(request, credentials)
        over = [
            name
            for count, limit, (_, name) in zip(counts, scope_limits(), SCOPES, strict=True)
            if count >= limit
        ]
        # Only the account count spares the owner's own browser: a stranger can reach it from other addresses.
        if over == ["AXES_ACCOUNT_FAILURE_LIMIT"] and is_known_device(request, credentials):
            return False
        return bool(over)

    def lock_if_over_a_limit(self, request: HttpRequest, credentials: dict) -> None:
        """After a counted failure: show the lockout page now if this failure reached any scope's limit."""
        if request.axes_locked_out or not self.is_locked(request, credentials):
            return
        request.axes_locked_out = True
        request.axes_credentials = credentials
        user_locked_out.send(
            "axes",
            request=request,
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        )

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        self.forgive_pair(request, get_credentials(user.get_username()))
        remember_device(request, user)


class DatabaseLoginThrottle(_ScopedLimits, AxesDatabaseHandler):
    """Counts in axes's AccessAttempt rows (one per email key, address and user agent); a scope sums the rows
    whose count still runs. A row's ``attempt_time`` is when its count started (axes moves it to every later
    failure, which kept a row counting for as long as failures came less than a cool-off apart)."""

    def scope_failures(self, request: HttpRequest, credentials: dict | None) -> list[int]:
        # One query for the three scopes: the cache handler asks this too on every check.
        scopes = [
            Q(**parameters)
            for parameters in get_client_parameters(
                get_client_username(request, credentials),
                request.axes_ip_address,
                request.axes_user_agent,
                request,
                credentials,
            )
        ]
        sums = {f"scope{n}": Sum("failures_since_start", filter=scope) for n, scope in enumerate(scopes)}
        counts = AccessAttempt.objects.filter(
            functools.reduce(operator.or_, scopes), attempt_time__gte=get_cool_off_threshold(request)
        ).aggregate(**sums)
        return [counts[name] or 0 for name in sums]

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is None or request.axes_locked_out or self.is_whitelisted(request, credentials):
            # axes's own handling: no request cannot be counted, a refused or whitelisted one is not.
            super().user_login_failed(sender, credentials, request, **kwargs)
            return
        self.clean_expired_user_attempts(request, credentials)
        self.count_failure(request, credentials)
        count_device_failure(request, credentials)
        self.lock_if_over_a_limit(request, credentials)

    def count_failure(self, request: HttpRequest, credentials: dict) -> None:
        """One more failure in this request's row, under a row lock; a row whose count has run out starts a
        new count with this failure."""
        started = request.axes_attempt_time
        with transaction.atomic(using=router.db_for_write(AccessAttempt)):
            attempt, created = AccessAttempt.objects.select_for_update().get_or_create(
                username=get_client_username(request, credentials),
                ip_address=request.axes_ip_address,
                user_agent=request.axes_user_agent,
                defaults={
                    "get_data": get_query_str(request.GET).replace("\0", "0x00"),
                    "post_data": get_query_str(request.POST).replace("\0", "0x00"),
                    "http_accept": request.axes_http_accept,
                    "path_info": request.axes_path_info,
                    "failures_since_start": 1,
                    "attempt_time": started,
                },
            )
            if created:
                return
            row = AccessAttempt.objects.filter(pk=attempt.pk)
            if attempt.attempt_time >= get_cool_off_threshold(request):
                row.update(failures_since_start=F("failures_since_start") + 1)
            else:
                row.update(failures_since_start=1, attempt_time=started)

    def forgive_pair(self, request: HttpRequest, credentials: dict) -> None:
        # The rows of this pair are also the only failures of this pair in the address's and account's sums,
        # and deleting them twice deletes nothing the second time.
        AccessAttempt.objects.filter(
            username=get_client_username(request, credentials), ip_address=request.axes_ip_address
        ).delete()


class CacheLoginThrottle(_ScopedLimits, AxesCacheHandler):
    """Counts in the cache (Redis), one counter per scope. A counter is created with the cool-off as its
    expiry and only raised after that (Redis INCR and the local-memory cache keep a key's expiry). While the
    cache cannot be reached, failures count in the database handler's rows, which every check adds in."""

    # The rows counted during an outage are saved and deleted through axes's model signals, which call these.
    post_save_access_attempt = AxesDatabaseHandler.post_save_access_attempt
    post_delete_access_attempt = AxesDatabaseHandler.post_delete_access_attempt

    def __init__(self):
        super().__init__()
        self.database = DatabaseLoginThrottle()

    def scope_failures(self, request: HttpRequest, credentials: dict | None) -> list[int]:
        stored = self.database.scope_failures(request, credentials)
        try:
            cached = [self.cache.get(key, default=0) for key in get_client_cache_keys(request, credentials)]
        except CACHE_DOWN_ERRORS:
            return stored
        return [in_cache + in_database for in_cache, in_database in zip(cached, stored, strict=True)]

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is None or request.axes_locked_out or self.is_whitelisted(request, credentials):
            # axes's own handling: no request cannot be counted, a refused or whitelisted one is not.
            super().user_login_failed(sender, credentials, request, **kwargs)
            return
        try:
            self.count_failure(request, credentials)
        except CACHE_DOWN_ERRORS:
            # Counts the cache took before it went away are counted again here: stricter, never looser.
            self.database.clean_expired_user_attempts(request, credentials)
            self.database.count_failure(request, credentials)
        count_device_failure(request, credentials)
        self.lock_if_over_a_limit(request, credentials)

    def count_failure(self, request: HttpRequest, credentials: dict) -> None:
        timeout = get_cache_timeout(request)
        for key in get_client_cache_keys(request, credentials):
            if self.cache.add(key, 1, timeout=timeout):
                continue
            try:
                self.cache.incr(key)
            except ValueError:  # expired since the add: this failure starts a new count
                self.cache.add(key, 1, timeout=timeout)

    def forgive_pair(self, request: HttpRequest, credentials: dict) -> None:
        self.database.forgive_pair(request, credentials)
        try:
            self._forgive_cached_pair(request, credentials)
        except CACHE_DOWN_ERRORS:  # the pair's cached counts then run out with their cool-off
            return

    def _forgive_cached_pair(self, request: HttpRequest, credentials: dict) -> None:
        pair, *others = get_client_cache_keys(request, credentials)
        forgiven = self.cache.get(pair, default=0)
        # Only the caller whose delete removed the key subtracts: parallel logins of the same pair all read
        # the same count, and each of them subtracting it wiped the address's count.
        if not forgiven or not self.cache.delete(pair):
            return
        for key in others:
            self._lower(key, forgiven)

    def _lower(self, key: str, amount: int) -> None:
        """Subtract `amount` from a count, but not below zero (the count may have started after some of the
        forgiven failures). Each caller gives back only what its own subtraction took below zero, so that
        parallel callers together stop exactly at zero."""
        try:
            left = self.cache.decr(key, amount)
            if left is not None and left < 0:
                self.cache.incr(key, min(amount, -left))
        except ValueError:  # expired meanwhile: nothing left to forgive
            pass
