from django.db import migrations


def name_site(apps, schema_editor):
    apps.get_model("wagtailcore", "Site").objects.filter(site_name="").update(site_name="Mailer")


class Migration(migrations.Migration):
    dependencies = [("cms", "0002_blog_index_and_editor_permissions")]

    operations = [migrations.RunPython(name_site, migrations.RunPython.noop)]
