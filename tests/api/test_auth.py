"""Signing in to the API (R-API-1, R-AUTH-1, R-AUTH-2, R-AUTH-5): tokenAuth through the login
page's authentication and throttling, short-lived access tokens, long-running refresh tokens that work once
and can be revoked, and the cut-offs of a password change and a block."""

import datetime as dt
import json
import time

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from graphql_jwt.refresh_token.models import RefreshToken
from graphql_jwt.utils import jwt_encode

from backend.accounts.forms import EmailAuthenticationForm
from backend.accounts.models import User
from backend.accounts.services import refresh_token_digest as digest
from backend.api.core.auth import jwt_payload
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN_AUTH = """
mutation SignIn($email: String!, $password: String!) {
  tokenAuth(email: $email, password: $password) {
    token tokenExpiresAt payload refreshToken refreshTokenExpiresAt
    user { email fullName timeZone isManager canManageUsers }
    errors { field message code }
  }
}
"""
REFRESH = """
mutation Refresh($refreshToken: String!) {
  refreshToken(refreshToken: $refreshToken) {
    token refreshToken refreshTokenExpiresAt user { email } errors { code }
  }
}
"""
VERIFY = """
mutation Verify($token: String!) { verifyToken(token: $token) { payload user { email } errors { code } } }
"""
REVOKE = """
mutation Revoke($refreshToken: String!) {
  revokeToken(refreshToken: $refreshToken) { revoked errors { code } }
}
"""
BLOCK = (
    'mutation Block($id: ID!) { blockUser(id: $id, reason: "spam") { user { isBlocked } errors { code } } }'
)
UNBLOCK = "mutation Unblock($id: ID!) { unblockUser(id: $id) { user { isBlocked } errors { code } } }"
ME = "query { me { email fullName timeZone isManager isSuperuser emailVerified } }"
NEW_PASSWORD = "violet-Harbor-93-kettle"
HANDLERS = {
    "database": "backend.accounts.throttling.DatabaseLoginThrottle",
    "cache": "backend.accounts.throttling.CacheLoginThrottle",  # Redis when REDIS_URL is set
}


def sign_in(email: str, password: str = DEFAULT_PASSWORD, client: Client | None = None):
    """(status, body, tokenAuth's payload or None) of one tokenAuth."""
    status, body = gql(TOKEN_AUTH, {"email": email, "password": password}, client=client)
    return status, body, (body.get("data") or {}).get("tokenAuth")


def tokens(user: User) -> dict:
    status, body, result = sign_in(user.email)
    assert status == 200 and "errors" not in body and result["errors"] == [], body
    return result


def refresh(refresh_token: str):
    return gql(REFRESH, {"refreshToken": refresh_token})


def me_status(token: str) -> int:
    return gql(ME, token=token)[0]


def manager() -> User:
    user = UserFactory()
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


def managed_id(user: User) -> str:
    from graphql_relay import to_global_id

    return to_global_id("ManagedUser", user.pk)


# --- tokenAuth ------------------------------------------------------------------------------------------


def test_token_auth_with_the_email_in_any_letter_case_gives_tokens_that_work_R_AUTH_1(settings):
    user = UserFactory(email="Ann.Lee@example.com", first_name="Ann", last_name="Lee", time_zone="Asia/Tokyo")
    before = timezone.now()
    status, body, result = sign_in("ANN.LEE@Example.COM")
    assert status == 200 and "errors" not in body, body
    assert result["errors"] == []
    assert result["user"] == {
        "email": "Ann.Lee@example.com",
        "fullName": "Ann Lee",
        "timeZone": "Asia/Tokyo",
        "isManager": False,
        "canManageUsers": False,
    }
    assert result["payload"]["email"] == "Ann.Lee@example.com"
    lifetime = settings.GRAPHQL_JWT["JWT_EXPIRATION_DELTA"]
    expires = dt.datetime.fromisoformat(result["tokenExpiresAt"])
    assert before + lifetime - dt.timedelta(seconds=2) <= expires <= timezone.now() + lifetime
    refresh_expires = dt.datetime.fromisoformat(result["refreshTokenExpiresAt"])
    assert refresh_expires - expires > dt.timedelta(days=29)
    assert RefreshToken.objects.get(token=digest(result["refreshToken"]), revoked__isnull=True).user == user

    me = data_of(ME, token=result["token"])["me"]
    assert me == {
        "email": "Ann.Lee@example.com",
        "fullName": "Ann Lee",
        "timeZone": "Asia/Tokyo",
        "isManager": False,
        "isSuperuser": False,
        "emailVerified": True,
    }
    user.refresh_from_db()
    assert user.last_login is not None  # user_logged_in was sent, as the login page's login() does


def test_a_wrong_password_and_an_unknown_email_get_the_login_pages_text_and_no_token():
    UserFactory(email="ann@example.com")
    texts = set()
    for email, password in (("ann@example.com", "guess"), ("nobody@example.com", DEFAULT_PASSWORD)):
        status, body, result = sign_in(email, password)
        assert status == 200
        assert error_codes(body) == ["UNAUTHENTICATED"]
        assert body["errors"][0]["extensions"]["reason"] == "invalid_login"
        assert result is None
        texts.add(body["errors"][0]["message"])
    assert texts == {str(EmailAuthenticationForm.error_messages["invalid_login"])}
    assert not RefreshToken.objects.exists()


@pytest.mark.parametrize(
    "state, reason", [({"email_verified": False}, "unverified"), ({"is_blocked": True}, "blocked")]
)
def test_unverified_and_blocked_accounts_get_no_token_and_the_login_pages_reason_R_AUTH_2(state, reason):
    """As on the login page, the reason is told only to whoever typed the right password."""
    UserFactory(email="ann@example.com", **state)
    _status, body, result = sign_in("ann@example.com")
    assert result is None and error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["extensions"]["reason"] == reason
    assert body["errors"][0]["message"] == str(EmailAuthenticationForm.error_messages[reason])
    _status, body, _result = sign_in("ann@example.com", "guess")
    assert body["errors"][0]["extensions"]["reason"] == "invalid_login"
    assert not RefreshToken.objects.exists()


@pytest.mark.parametrize("email", ["", "not-an-email"])
def test_a_malformed_email_is_a_payload_error_on_the_email_field(email):
    _status, body, result = sign_in(email)
    assert "errors" not in body
    assert result["token"] is None
    assert [error["field"] for error in result["errors"]] == ["email"]


# --- throttling: the login page's counts and locks -------------------------------------


@pytest.fixture(params=sorted(HANDLERS))
def throttle(request, settings):
    """Both handlers: the database's (SQLite or PostgreSQL) and the cache's (Redis when REDIS_URL is set)."""
    settings.AXES_HANDLER = HANDLERS[request.param]
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_IP_FAILURE_LIMIT = 50
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 20
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=5)
    return request.param


def page_login(client: Client, email: str, password: str = DEFAULT_PASSWORD):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def test_five_wrong_passwords_lock_the_pair_and_even_the_right_one_gets_json_429_code(throttle):
    UserFactory(email="ann@example.com")
    codes = [error_codes(sign_in("ann@example.com", "guess")[1]) for _ in range(5)]
    assert codes == [["UNAUTHENTICATED"]] * 4 + [["TOO_MANY_REQUESTS"]]

    client = Client()
    response = client.post(
        "/graphql/",
        json.dumps(
            {"query": TOKEN_AUTH, "variables": {"email": "ann@example.com", "password": DEFAULT_PASSWORD}}
        ),
        content_type="application/json",
    )
    assert response["Content-Type"] == "application/json"  # not axes's HTML lockout page
    body = response.json()
    assert error_codes(body) == ["TOO_MANY_REQUESTS"]
    assert body["errors"][0]["extensions"]["retryAfter"] == 300
    assert "5 minutes" in body["errors"][0]["message"]
    assert body["data"] == {"tokenAuth": None}
    assert not RefreshToken.objects.exists()
    # The same lock as the login page's: the page refuses this pair too.
    assert page_login(Client(), "ann@example.com").status_code == 429


def test_the_login_pages_failures_count_for_token_auth_and_the_other_way_round(throttle):
    UserFactory(email="ann@example.com")
    client = Client()
    for _ in range(3):
        assert page_login(client, "ann@example.com", "guess").status_code == 200
    assert error_codes(sign_in("ann@example.com", "guess")[1]) == ["UNAUTHENTICATED"]
    assert error_codes(sign_in("ann@example.com", "guess")[1]) == ["TOO_MANY_REQUESTS"]
    assert page_login(client, "ann@example.com").status_code == 429


def test_a_successful_token_auth_forgives_its_pairs_typos_like_a_page_login(throttle):
    UserFactory(email="ann@example.com")
    for _ in range(3):
        for _ in range(4):
            assert error_codes(sign_in("ann@example.com", "guess")[1]) == ["UNAUTHENTICATED"]
        tokens(User.objects.get(email="ann@example.com"))


def test_token_auth_must_be_alone_so_no_other_field_can_roll_its_count_back(throttle):
    """A failing field next to tokenAuth would roll the document back, the failure's count with it (axes's
    database handler), and the guessing would never lock."""
    UserFactory(email="ann@example.com")
    document = """mutation {
      a: tokenAuth(email: "ann@example.com", password: "guess") { token }
      refreshToken(refreshToken: "nope") { token }
    }"""
    for _ in range(6):
        status, body = gql(document)
        assert status == 400 and error_codes(body) == ["BAD_REQUEST"]
    # Aliases of tokenAuth are refused too (one password check per request: see test_request_limits.py), so
    # each failure is its own request and counts.
    for _ in range(4):
        assert error_codes(sign_in("ann@example.com", "guess")[1]) == ["UNAUTHENTICATED"]
    assert error_codes(sign_in("ann@example.com", "guess")[1]) == ["TOO_MANY_REQUESTS"]
    assert error_codes(sign_in("ann@example.com")[1]) == ["TOO_MANY_REQUESTS"]


# --- access tokens ----------------------------------------------------------------------------------------


def test_anonymous_me_is_401_unauthenticated():
    status, body = gql(ME)
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]


def test_an_expired_access_token_is_refused_and_verify_says_so():
    user = UserFactory()
    old = jwt_encode({**jwt_payload(user), "exp": int(time.time()) - 1})
    status, body = gql(ME, token=old)
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    assert "expired" in body["errors"][0]["message"].lower()
    _status, body = gql(VERIFY, {"token": old})
    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_the_access_token_lifetime_comes_from_settings(settings):
    # 3 s, not 1: `exp` is in whole seconds, so a 1 s token could expire a few milliseconds after it was
    # made and fail the first check on a busy machine (seen in CI).
    settings.GRAPHQL_JWT = {**settings.GRAPHQL_JWT, "JWT_EXPIRATION_DELTA": dt.timedelta(seconds=3)}
    result = tokens(UserFactory())
    assert result["payload"]["exp"] - result["payload"]["origIat"] == 3
    assert me_status(result["token"]) == 200
    time.sleep(4.1)
    assert me_status(result["token"]) == 401


def test_verify_token_gives_the_claims_of_a_working_token():
    user = UserFactory()
    result = tokens(user)
    _status, body = gql(VERIFY, {"token": result["token"]})
    assert body["data"]["verifyToken"]["payload"]["email"] == user.email
    assert body["data"]["verifyToken"]["user"] == {"email": user.email}
    _status, body = gql(VERIFY, {"token": result["token"] + "x"})
    assert error_codes(body) == ["UNAUTHENTICATED"]


# --- refresh tokens ---------------------------------------------------------------------------------------


def test_a_refresh_token_gives_a_new_pair_once():
    user = UserFactory()
    first = tokens(user)
    status, body = refresh(first["refreshToken"])
    assert status == 200 and "errors" not in body, body
    second = body["data"]["refreshToken"]
    assert second["user"] == {"email": user.email}
    assert second["refreshToken"] != first["refreshToken"]
    assert me_status(second["token"]) == 200
    # Spent: a copy replayed at once (a retry, a second tab) is only refused.
    other = tokens(user)
    _status, body = refresh(first["refreshToken"])
    assert error_codes(body) == ["UNAUTHENTICATED"] and body["data"] == {"refreshToken": None}
    assert RefreshToken.objects.filter(user=user, revoked__isnull=True).count() == 2
    # Replayed later, one of the two holders is not the owner: every refresh token the account holds is
    # revoked (the chain issued from the spent one included) and the access tokens end.
    RefreshToken.objects.filter(user=user, revoked__isnull=False).update(
        revoked=timezone.now() - dt.timedelta(minutes=1)
    )
    _status, body = refresh(first["refreshToken"])
    assert error_codes(body) == ["UNAUTHENTICATED"]
    for chained in (second["refreshToken"], other["refreshToken"]):
        assert error_codes(refresh(chained)[1]) == ["UNAUTHENTICATED"]
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()
    assert me_status(second["token"]) == 401
    assert "errors" not in refresh(tokens(user)["refreshToken"])[1]  # signing in again works


def test_a_token_its_holder_revoked_is_refused_without_ending_the_other_sessions():
    """Only a spent token used again means theft: a stale client trying a token revoked by revokeToken or a
    password change must not sign the account's other clients out."""
    user = UserFactory()
    old, kept = tokens(user), tokens(user)
    data_of(
        "mutation($t: String!) { revokeToken(refreshToken: $t) { revoked } }",
        {"t": old["refreshToken"]},
        token=kept["token"],
    )
    RefreshToken.objects.filter(user=user, revoked__isnull=False).update(
        revoked=timezone.now() - dt.timedelta(hours=1)
    )
    assert error_codes(refresh(old["refreshToken"])[1]) == ["UNAUTHENTICATED"]
    assert "errors" not in refresh(kept["refreshToken"])[1]


def test_an_expired_refresh_token_is_refused():
    result = tokens(UserFactory())
    RefreshToken.objects.filter(token=digest(result["refreshToken"])).update(
        created=timezone.now() - dt.timedelta(days=31)
    )
    _status, body = refresh(result["refreshToken"])
    assert error_codes(body) == ["UNAUTHENTICATED"] and "expired" in body["errors"][0]["message"]


def test_revoke_token_signs_an_api_client_out_and_only_with_ones_own_token():
    ann, bob = UserFactory(), UserFactory()
    ann_tokens, bob_tokens = tokens(ann), tokens(bob)
    # Another user's refresh token is unknown to you, and stays usable for its owner.
    _status, body = gql(REVOKE, {"refreshToken": bob_tokens["refreshToken"]}, token=ann_tokens["token"])
    assert error_codes(body) == ["NOT_FOUND"]
    assert RefreshToken.objects.get(token=digest(bob_tokens["refreshToken"])).revoked is None
    # Revoking needs a user.
    status, body = gql(REVOKE, {"refreshToken": ann_tokens["refreshToken"]})
    assert status == 401
    result = data_of(REVOKE, {"refreshToken": ann_tokens["refreshToken"]}, token=ann_tokens["token"])
    assert result["revokeToken"]["revoked"] is not None
    _status, body = refresh(ann_tokens["refreshToken"])
    assert error_codes(body) == ["UNAUTHENTICATED"]
    _status, body = gql(REVOKE, {"refreshToken": ann_tokens["refreshToken"]}, token=ann_tokens["token"])
    assert error_codes(body) == ["NOT_FOUND"]


# --- cut-offs: a password change, a block ------------------------------------------------------------------


def test_a_password_change_on_the_page_ends_the_access_and_refresh_tokens_issued_before():
    user = UserFactory()
    before = tokens(user)
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert me_status(before["token"]) == 401
    _status, body = refresh(before["refreshToken"])
    assert error_codes(body) == ["UNAUTHENTICATED"]
    # The new password signs in again.
    user.refresh_from_db()
    _status, _body, result = sign_in(user.email, NEW_PASSWORD)
    assert result["token"] and me_status(result["token"]) == 200


def test_any_set_password_revokes_the_refresh_tokens():
    """The validator's password_changed hook runs on every set_password() + save(): reset link, admin,
    changepassword alike."""
    user = UserFactory()
    result, other = tokens(user), tokens(UserFactory())
    user.set_password(NEW_PASSWORD)
    user.save()
    assert RefreshToken.objects.get(token=digest(result["refreshToken"])).revoked is not None
    assert RefreshToken.objects.get(token=digest(other["refreshToken"])).revoked is None


def test_a_block_ends_the_users_tokens_on_their_next_request_and_an_unblock_does_not_revive_them_R_AUTH_5():
    boss, member = manager(), UserFactory()
    issued = tokens(member)
    assert me_status(issued["token"]) == 200
    boss_token = tokens(boss)["token"]
    assert data_of(BLOCK, {"id": managed_id(member)}, token=boss_token)["blockUser"]["user"]["isBlocked"]

    status, body = gql(ME, token=issued["token"])
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    _status, body = refresh(issued["refreshToken"])
    assert error_codes(body) == ["UNAUTHENTICATED"]
    _status, body, result = sign_in(member.email)
    assert result is None and body["errors"][0]["extensions"]["reason"] == "blocked"

    data_of(UNBLOCK, {"id": managed_id(member)}, token=boss_token)
    # The access token issued before the block stays dead too, though it has not expired.
    assert me_status(issued["token"]) == 401
    _status, body = refresh(issued["refreshToken"])
    assert error_codes(body) == ["UNAUTHENTICATED"]  # revoked by the block; signing in again works
    assert me_status(tokens(member)["token"]) == 200


def test_a_refresh_is_refused_while_the_account_cannot_act_even_if_its_token_was_not_revoked():
    user = UserFactory()
    result = tokens(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    _status, body = refresh(result["refreshToken"])
    assert error_codes(body) == ["UNAUTHENTICATED"]
    User.objects.filter(pk=user.pk).update(is_active=True)
    assert "errors" not in refresh(result["refreshToken"])[1]


# --- CSRF: the session needs it, a JWT does not -----------------------------------------------------------


def test_a_session_post_needs_the_csrf_token_and_a_jwt_post_does_not():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    body = json.dumps({"query": ME})
    refused = client.post("/graphql/", body, content_type="application/json")
    assert refused.status_code == 403 and error_codes(refused.json()) == ["FORBIDDEN"]
    client.get("/graphql/", HTTP_ACCEPT="text/html")  # sets the CSRF cookie, as GraphiQL's page does
    accepted = client.post(
        "/graphql/", body, content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )
    assert accepted.status_code == 200 and accepted.json()["data"]["me"]["email"] == user.email
    status, result = gql(ME, token=tokens(user)["token"], client=Client(enforce_csrf_checks=True))
    assert status == 200 and result["data"]["me"]["email"] == user.email


def test_token_mutations_in_json_need_no_csrf_token_so_curl_can_sign_in():
    """No session cookie is involved: tokenAuth, refreshToken and verifyToken take their credential as an
    argument. A browser cannot send JSON to another site without a CORS preflight, so only JSON is spared;
    anything else that fails the CSRF check is still refused."""
    user = UserFactory()
    strict = Client(enforce_csrf_checks=True)
    variables = {"email": user.email, "password": DEFAULT_PASSWORD}
    status, body = gql(TOKEN_AUTH, variables, client=strict)
    assert status == 200 and body["data"]["tokenAuth"]["token"], body
    status, body = gql(REFRESH, {"refreshToken": body["data"]["tokenAuth"]["refreshToken"]}, client=strict)
    assert status == 200 and "errors" not in body
    # With a session cookie in the browser (what a forged cross-site post would ride on), the same mutation as
    # a multipart form (which any site can post) is refused, and so is `me`. Without one there is nothing to
    # forge (tests/api/test_core.py: the caller then hears "sign in first").
    strict.force_login(UserFactory())
    operations = json.dumps({"query": TOKEN_AUTH, "variables": variables})
    response = strict.post("/graphql/", {"operations": operations, "map": "{}"})
    assert response.status_code == 403 and error_codes(response.json()) == ["FORBIDDEN"]
    mixed = 'mutation { verifyToken(token: "x") { payload } } query Me { me { email } }'
    for query in (ME, mixed):
        status, body = gql(query, client=strict)
        assert status == 403 and error_codes(body) == ["FORBIDDEN"]
