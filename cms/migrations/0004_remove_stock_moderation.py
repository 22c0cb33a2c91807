"""Content editors publish; the blog has no moderation step.

Wagtail's migrations create "Editors" and "Moderators" groups and a "Moderators approval" workflow on the
root page, so an editor was offered "Submit to Moderators approval", which nobody would ever approve. The
project's own roles ("Content editors", "Managers") replace them. A stock group that has members is kept, and
so is the workflow while its Moderators group has members: someone chose to use them.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

STOCK_GROUPS = ["Editors", "Moderators"]
STOCK_WORKFLOW = "Moderators approval"
IN_PROGRESS, CANCELLED = "in_progress", "cancelled"


def stock_workflow(apps):
    """The workflow Wagtail made: its name, and one approval task whose only approvers are Moderators."""
    Workflow = apps.get_model("wagtailcore", "Workflow")
    GroupApprovalTask = apps.get_model("wagtailcore", "GroupApprovalTask")
    workflow = Workflow.objects.filter(name=STOCK_WORKFLOW).first()
    if workflow is None:
        return None, None
    task_ids = list(workflow.workflow_tasks.values_list("task_id", flat=True))
    task = GroupApprovalTask.objects.filter(pk__in=task_ids).first()
    if (
        len(task_ids) != 1
        or task is None
        or list(task.groups.values_list("name", flat=True)) != ["Moderators"]
    ):
        return None, None
    return workflow, task


def remove_stock_moderation(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    WorkflowState = apps.get_model("wagtailcore", "WorkflowState")
    TaskState = apps.get_model("wagtailcore", "TaskState")
    WorkflowPage = apps.get_model("wagtailcore", "WorkflowPage")
    WorkflowContentType = apps.get_model("wagtailcore", "WorkflowContentType")

    unused = Group.objects.filter(name__in=STOCK_GROUPS, user__isnull=True)
    workflow, task = stock_workflow(apps)
    if workflow is not None and unused.filter(name="Moderators").exists():
        if WorkflowState.objects.filter(workflow=workflow).exists():
            # Used before: disable it as Wagtail's admin does, so the pages' moderation history stays.
            TaskState.objects.filter(workflow_state__workflow=workflow, status=IN_PROGRESS).update(
                status=CANCELLED, finished_at=timezone.now()
            )
            WorkflowState.objects.filter(workflow=workflow, status=IN_PROGRESS).update(status=CANCELLED)
            WorkflowPage.objects.filter(workflow=workflow).delete()
            WorkflowContentType.objects.filter(workflow=workflow).delete()
            workflow.active = task.active = False
            workflow.save(update_fields=["active"])
            task.save(update_fields=["active"])
        else:
            workflow.delete()
            task.delete()
    unused.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cms", "0003_site_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        # After every stock migration that creates these groups or grants them permissions.
        ("wagtailcore", "0098_apitoken"),
        ("wagtailadmin", "0006_formstate"),
        ("wagtailimages", "0027_image_description"),
        ("wagtaildocs", "0014_alter_document_file_size"),
    ]

    operations = [migrations.RunPython(remove_stock_moderation, migrations.RunPython.noop)]
