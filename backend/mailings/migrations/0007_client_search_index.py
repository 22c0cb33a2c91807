"""The client list's search served by trigram indexes on PostgreSQL (R-AUD, "big lists"); nothing on SQLite,
whose search stays a scan.

The search (`filtering.SearchFilter`) is Django's `icontains`, which PostgreSQL runs as
`UPPER("email"::text) LIKE UPPER('%text%')`: the indexes are on those same expressions, with `gin_trgm_ops`,
so the planner uses them for any text of three characters or more. And the list's default order (name, id)
from an index, on every database: its first page without sorting the whole list.
"""

from django.db import migrations, models

INDEXES = {
    "mailings_client_email_trgm": "email",
    "mailings_client_name_trgm": "full_name",
}


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON mailings_client USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("mailings", "0006_client_imports")]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
        migrations.AddIndex(
            model_name="client",
            index=models.Index(fields=["owner", "full_name", "id"], name="mailings_client_owner_name"),
        ),
    ]
