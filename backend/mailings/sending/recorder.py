"""Writing attempts: each result is committed before its worker sends the next message (R-SEND-7), so with
W workers at most W messages are ever accepted by the server and not yet marked sent: what a crash can repeat.

This runs for every message, so it skips the ORM: on PostgreSQL one statement writes the delivery's new
state and its attempt (an UPDATE ... RETURNING feeding the INSERT); elsewhere two statements in one
transaction. (A shared writer thread batching the workers' rows was measured too: no faster here, because
the sender is bound by Python's per-message work, not by the database, so it was left out.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from django.db import connection, transaction
from psycopg2.extras import execute_values

from ..models import Delivery, DeliveryAttempt

_DELIVERY = Delivery._meta.db_table
_ATTEMPT = DeliveryAttempt._meta.db_table
MAX_BATCH = 256


class Row(NamedTuple):
    delivery_id: int
    lease: str
    status: str
    attempts: int
    at: object
    next_at: object
    answer: str
    sent_at: object
    outcome: str
    code: int | None
    text: str


# PostgreSQL: the deliveries' new states and their attempts in one statement, atomic by itself.
_RECORD_PG = f"""
WITH v (id, lease, status, attempts, at, next_at, answer, sent_at, outcome, code, text) AS (VALUES %s),
u AS (
    UPDATE {_DELIVERY} AS d SET status = v.status, attempts = v.attempts, last_attempt_at = v.at,
        next_attempt_at = v.next_at, last_response = v.answer, sent_at = v.sent_at, claim_token = ''
    FROM v WHERE d.id = v.id AND d.claim_token = v.lease RETURNING d.id
)
INSERT INTO {_ATTEMPT} (delivery_id, attempted_at, outcome, smtp_code, response)
SELECT v.id, v.at, v.outcome, v.code, v.text FROM v JOIN u ON u.id = v.id
"""
_TEMPLATE_PG = (
    "(%s::bigint, %s::varchar, %s::varchar, %s::smallint, %s::timestamptz, %s::timestamptz, %s::text, "
    "%s::timestamptz, %s::varchar, %s::smallint, %s::text)"
)
_UPDATE = (
    f"UPDATE {_DELIVERY} SET status = %s, attempts = %s, last_attempt_at = %s, next_attempt_at = %s, "
    "last_response = %s, sent_at = %s, claim_token = '' WHERE id = %s AND claim_token = %s"
)
_INSERT = (
    f"INSERT INTO {_ATTEMPT} (delivery_id, attempted_at, outcome, smtp_code, response) "
    "VALUES (%s, %s, %s, %s, %s)"
)


def write(rows: Sequence[Row]) -> int:
    """Record `rows` (normally one) in one transaction; returns how many were still held by their lease
    (a row whose lease another pass took over is left to that pass)."""
    adapt = connection.ops.adapt_datetimefield_value  # raw SQL: store dates exactly as the ORM does
    rows = [
        row._replace(at=adapt(row.at), next_at=adapt(row.next_at), sent_at=adapt(row.sent_at)) for row in rows
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            execute_values(
                cursor.cursor,
                _RECORD_PG + " RETURNING delivery_id",
                rows,
                template=_TEMPLATE_PG,
                page_size=MAX_BATCH,
            )
            return cursor.cursor.rowcount
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for row in rows:
            cursor.execute(_UPDATE, [*row[2:8], row.delivery_id, row.lease])
            if cursor.rowcount == 1:
                cursor.execute(_INSERT, [row.delivery_id, row.at, row.outcome, row.code, row.text])
                written += 1
    return written
