from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def name_from_subject(apps, schema_editor):
    """Existing mailings are named after their message's subject, as a new one left unnamed is."""
    Mailing = apps.get_model("mailings", "Mailing")
    Message = apps.get_model("mailings", "Message")
    Mailing.objects.update(
        name=Subquery(Message.objects.filter(pk=OuterRef("message_id")).values("subject")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [("mailings", "0020_edges_extra")]

    operations = [
        migrations.AddField(
            model_name="mailing",
            name="name",
            field=models.CharField(default="", max_length=255, verbose_name="name"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="mailing",
            name="paused_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="paused at"),
        ),
        migrations.RunPython(name_from_subject, migrations.RunPython.noop),
    ]
