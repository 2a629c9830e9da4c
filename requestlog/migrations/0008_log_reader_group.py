"""The "log reader" group: may read the request log (dashboard, API, live feed) and prices.

Permissions are normally created after all migrations ran (post_migrate), so
on a new database they do not exist yet here: they are created first.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "log reader"
PERMISSIONS = (("requestlog", "view_requestlog"), ("requestlog", "view_modelprice"))


def create_group(apps, schema_editor):
    app_config = apps.get_app_config("requestlog")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("requestlog", "0007_log_outcome_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
