"""Writes of many rows in one statement, without passing them through Python (R-AUD-3): an occurrence's
deliveries, a tag added to every client matching a search, the clients chosen by a search, and deleting
every client matching a search (R-OWN-3)."""

import secrets

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import Expression, QuerySet
from django.db.models.deletion import get_candidate_relations_to_delete
from django.db.models.expressions import RawSQL


def insert_from(model: type[models.Model], columns: dict[str, Expression], rows: QuerySet) -> int:
    """`INSERT INTO model (columns) SELECT ... FROM rows ON CONFLICT DO NOTHING`: one row of `model` per row
    of `rows`, each column's value an expression over it (the ORM adapts each value as it would for a save).
    Rows a unique constraint already holds are left alone, so the insert is idempotent. Returns how many
    rows it inserted."""
    names = {f"d_{column}": expression for column, expression in columns.items()}
    select = rows.order_by().annotate(**names).values_list(*names)
    if list(select.query.annotation_select) != list(names) or select.query.values_select:
        raise RuntimeError("the SELECT does not list the inserted columns in order")
    try:
        sql, params = select.query.sql_with_params()
    except EmptyResultSet:  # a selection that is empty by definition (`.none()`, `pk__in=[]`)
        return 0
    if " WHERE " not in sql:
        # SQLite parses "INSERT ... SELECT ... ON CONFLICT" only when the SELECT has a WHERE.
        sql += " WHERE 1 = 1"
    table = connection.ops.quote_name(model._meta.db_table)
    fields = ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({fields}) {sql} ON CONFLICT DO NOTHING", params)
        return max(cursor.rowcount, 0)


def delete(rows: QuerySet) -> int:
    """Delete `rows` and follow their relations as Django's `delete()` does — cascade, SET_NULL, a
    many-to-many's link rows — with a statement per related table whatever the number of rows: Django's
    collector loads every row (and each cascade's rows) into memory and deletes them in batches of a few
    hundred. The rows' ids are kept in a temporary table first, so a selection that depends on what is
    deleted on the way (clients chosen by a tag) still names the same rows at the end. Only for models
    without delete signals or an overridden `delete()` (this app's have none). Call it inside a
    transaction. Returns how many rows of `rows` were deleted."""
    try:
        sql, params = rows.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        return 0
    table = connection.ops.quote_name(f"bulk_delete_{secrets.token_hex(6)}")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {table} AS {sql}", params)
    try:
        ids = RawSQL(f"SELECT * FROM {table}", [])  # noqa: S608, S611 - a name made here, no user text
        model = rows.model
        # What Django's collector follows: every reverse one-to-many or one-to-one, hidden ones ("+") and the
        # link tables of many-to-many fields included.
        for relation in get_candidate_relations_to_delete(model._meta):
            related = relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": ids})
            if relation.on_delete is models.SET_NULL:
                related.update(**{relation.field.name: None})
            elif relation.on_delete is models.CASCADE:
                delete(related)
            elif relation.on_delete is not models.DO_NOTHING and related.exists():
                raise models.ProtectedError(
                    f"{relation.related_model.__name__} rows refer to these rows", set()
                )
        chosen = model._base_manager.filter(pk__in=ids)
        return chosen._raw_delete(chosen.db)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {table}")
