from __future__ import annotations

from django.db import migrations


def create_free_plan(apps, schema_editor):  # type: ignore[no-untyped-def]
    Plan = apps.get_model("accounts", "Plan")
    # monthly_quota stays empty: the free quota follows FREE_PLAN_MONTHLY_QUOTA.
    Plan.objects.get_or_create(slug="free", defaults={"name": "Free", "is_default": True})
    Plan.objects.get_or_create(slug="unlimited", defaults={"name": "Unlimited", "monthly_quota": -1})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_free_plan, migrations.RunPython.noop)]
