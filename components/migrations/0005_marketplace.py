# The marketplace's listings, submissions (the validation queue), forks and curated collections
# (components/marketplace/models.py).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_plan_size_limits"),
        ("components", "0004_oauth2_credentials"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Listing",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("private", "Private"),
                            ("submitted", "Submitted"),
                            ("approved", "Approved"),
                            ("rejected", "Rejected"),
                        ],
                        default="private",
                        max_length=10,
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=120)),
                ("description", models.TextField(blank=True, max_length=5000)),
                ("tags", models.JSONField(blank=True, default=list)),
                ("icon", models.CharField(blank=True, max_length=32)),
                (
                    "closed_source",
                    models.BooleanField(default=False, help_text="Only the interface is shown; the code still runs."),
                ),
                ("approved_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "approved_version",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="components.componentversion",
                    ),
                ),
                (
                    "component",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="listing", to="components.component"
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        help_text="The publisher.",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="listings",
                        to="accounts.project",
                    ),
                ),
            ],
            options={
                "ordering": ("-approved_at", "-id"),
            },
        ),
        migrations.CreateModel(
            name="Collection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=120)),
                ("slug", models.SlugField(max_length=120, unique=True)),
                ("description", models.TextField(blank=True, max_length=2000)),
                ("position", models.PositiveIntegerField(default=0, help_text="Lower comes first on the home page.")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("listings", models.ManyToManyField(blank=True, related_name="collections", to="components.listing")),
            ],
            options={
                "ordering": ("position", "title"),
            },
        ),
        migrations.CreateModel(
            name="Submission",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "state",
                    models.CharField(
                        choices=[("submitted", "Submitted"), ("approved", "Approved"), ("rejected", "Rejected")],
                        db_index=True,
                        default="submitted",
                        max_length=10,
                    ),
                ),
                ("name", models.CharField(max_length=120)),
                ("description", models.TextField(max_length=5000)),
                ("tags", models.JSONField(blank=True, default=list)),
                ("icon", models.CharField(blank=True, max_length=32)),
                ("closed_source", models.BooleanField(default=False)),
                ("reason", models.TextField(blank=True, help_text="Why it was rejected.", max_length=2000)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "listing",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="submissions", to="components.listing"
                    ),
                ),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "submitted_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="components.componentversion"
                    ),
                ),
            ],
            options={
                "ordering": ("-created_at", "-id"),
            },
        ),
        migrations.CreateModel(
            name="Fork",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version_number", models.PositiveIntegerField(help_text="The parent's version number it copies.")),
                ("closed_source", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "component",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="fork", to="components.component"
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.project"
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="components.componentversion",
                    ),
                ),
                (
                    "listing",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="forks",
                        to="components.listing",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("project", "listing"), name="one_fork_per_project")],
            },
        ),
    ]
