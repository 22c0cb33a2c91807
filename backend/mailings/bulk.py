"""Writes of many rows in one statement, without passing them through Python (R-AUD-3): an occurrence's
deliveries, a tag added to every client matching a search, the clients chosen by a search."""

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import Expression, QuerySet


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
