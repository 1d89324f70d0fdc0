# OAuth2 connections of credentials: filled in with the models they describe.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("components", "0003_component_connector"),
    ]

    operations = []
