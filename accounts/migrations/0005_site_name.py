"""The ``django.contrib.sites`` row says Synchronise, not Django's ``example.com``.

Emails take the name and address from settings (``SITE_NAME``, ``SITE_URL``); the row is still
what allauth's pages name (a social sign-up's form). A row someone renamed is left alone.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.db import migrations


def name_the_site(apps, schema_editor):  # type: ignore[no-untyped-def]
    site_model = apps.get_model("sites", "Site")
    domain = urlsplit(settings.SITE_URL).netloc or "localhost"
    site = site_model.objects.filter(pk=settings.SITE_ID).first()
    if site is None:  # a new database: the sites app creates its row after every migration
        site_model.objects.create(pk=settings.SITE_ID, domain=domain, name=settings.SITE_NAME)
    elif site.name == "example.com":
        site.name = settings.SITE_NAME
        site.domain = domain if site.domain == "example.com" else site.domain
        site.save(update_fields=["name", "domain"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_plan_size_limits"),
        ("sites", "0002_alter_domain_unique"),
    ]

    operations = [migrations.RunPython(name_the_site, migrations.RunPython.noop)]
