"""Calling /graphql/ the way clients do: a JWT header, or a signed-in session."""

import json

from django.test import Client
from graphql_jwt.utils import jwt_encode

from backend.accounts.models import User
from backend.api.core.auth import jwt_payload


def token_for(user: User) -> str:
    """An access token exactly as tokenAuth issues it."""
    return jwt_encode(jwt_payload(user))


def gql(
    query: str,
    variables: dict | None = None,
    *,
    user: User | None = None,
    token: str | None = None,
    client: Client | None = None,
):
    """POST one operation; returns (status, body). `user` sends that user's JWT; `client` a session."""
    headers = {}
    if user is not None:
        headers["HTTP_AUTHORIZATION"] = f"JWT {token_for(user)}"
    elif token is not None:
        headers["HTTP_AUTHORIZATION"] = f"JWT {token}"
    response = (client or Client()).post(
        "/graphql/",
        json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **headers,
    )
    return response.status_code, response.json()


def data_of(query: str, variables: dict | None = None, **kwargs) -> dict:
    """The `data` of a call that must succeed without GraphQL errors."""
    status, body = gql(query, variables, **kwargs)
    assert "errors" not in body, body
    assert status == 200, body
    return body["data"]


def error_codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]
