"""Refresh tokens are kept as their SHA-256 only (services.refresh_token_digest): the tokens issued before
keep working, now stored as their digests."""

import hashlib

from django.db import migrations


def hash_tokens(apps, schema_editor):
    RefreshToken = apps.get_model("refresh_token", "RefreshToken")
    for refresh_token in RefreshToken.objects.only("pk", "token").iterator():
        if len(refresh_token.token) == 64:  # already a digest (hex of 32 bytes; issued tokens are 40 long)
            continue
        digest = hashlib.sha256(refresh_token.token.encode("utf-8", "surrogatepass")).hexdigest()
        RefreshToken.objects.filter(pk=refresh_token.pk).update(token=digest)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_user_token_generation"),
        ("refresh_token", "0002_auto_20190130_0900"),
    ]

    operations = [migrations.RunPython(hash_tokens, migrations.RunPython.noop)]
