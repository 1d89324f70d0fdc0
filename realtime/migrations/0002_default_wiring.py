from __future__ import annotations

from django.db import migrations

# A frozen copy of realtime.wiring.DEFAULT_WIRING at the time of this migration.
WIRING = {
    "createOrUpdateProject": [("getProject", {"id": {"filter": "id"}}), ("projectList", {})],
    "deleteProject": [("getProject", {"id": {"filter": "id"}}), ("projectList", {})],
    "updateMembers": [
        ("projectMembers", {"project_id": {"filter": "project_id"}}),
        ("getProject", {"id": {"filter": "project_id"}}),
        ("projectList", {}),
    ],
    "updateKeys": [("projectKeys", {"project_id": {"filter": "project_id"}})],
}


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    RealtimeSubscription = apps.get_model("realtime", "RealtimeSubscription")
    for room, subscriptions in WIRING.items():
        for function, params in subscriptions:
            RealtimeSubscription.objects.get_or_create(room=room, function=function, defaults={"params": params})


class Migration(migrations.Migration):
    dependencies = [("realtime", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
