# OAuth2 connections of credentials (components/oauth2/models.py) and the provider apps superadmin edits.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("components", "0003_component_connector"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OAuth2App",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "slug",
                    models.SlugField(
                        help_text="github, google, … or a new slug for a custom provider.", max_length=64, unique=True
                    ),
                ),
                (
                    "label",
                    models.CharField(
                        blank=True, help_text="Shown on the Connect button; custom providers.", max_length=100
                    ),
                ),
                ("client_id", models.CharField(max_length=500)),
                ("client_secret_ciphertext", models.TextField(blank=True, editable=False)),
                ("authorize_url", models.URLField(blank=True, help_text="Custom providers only.", max_length=500)),
                ("token_url", models.URLField(blank=True, help_text="Custom providers only.", max_length=500)),
                (
                    "scopes",
                    models.CharField(blank=True, help_text="Default scopes, separated by spaces.", max_length=1000),
                ),
                (
                    "pkce",
                    models.BooleanField(default=True, help_text="Custom providers: send a PKCE (S256) challenge."),
                ),
                (
                    "client_auth",
                    models.CharField(
                        choices=[
                            ("basic", "HTTP Basic (client_secret_basic)"),
                            ("post", "In the form body (client_secret_post)"),
                        ],
                        default="basic",
                        max_length=8,
                    ),
                ),
                ("enabled", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "OAuth2 provider app",
                "ordering": ("slug",),
            },
        ),
        migrations.AddField(
            model_name="credential",
            name="kind",
            field=models.CharField(
                choices=[("secret", "Secret"), ("oauth2", "OAuth2 connection")],
                default="secret",
                help_text="oauth2: the value is the access token of a connection (components/oauth2/).",
                max_length=8,
            ),
        ),
        migrations.CreateModel(
            name="OAuth2Connection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "provider",
                    models.CharField(
                        help_text="A slug of components/oauth2/providers.py or an OAuth2 app.", max_length=64
                    ),
                ),
                ("scopes", models.JSONField(blank=True, default=list)),
                (
                    "refresh_ciphertext",
                    models.TextField(
                        blank=True,
                        help_text="The refresh token, sealed for this credential's row and the field 'refresh_token'.",
                    ),
                ),
                ("token_type", models.CharField(blank=True, max_length=32)),
                (
                    "expires_at",
                    models.DateTimeField(
                        blank=True, help_text="When the access token expires; empty: never.", null=True
                    ),
                ),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_reason", models.CharField(blank=True, max_length=300)),
                ("connected_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("refreshed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "connected_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "credential",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="oauth2", to="components.credential"
                    ),
                ),
            ],
        ),
    ]
