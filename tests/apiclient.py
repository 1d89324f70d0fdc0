"""Clients for the REST API tests: signed in as a persona, or holding an API key."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiKey, ApiKeyKind, Project, User

API = "/api/v1"


# The personas of the every-endpoint, every-persona tables (fixtures of the same names).
OWNER, EDITOR, VIEWER, OUTSIDER = "alice", "bob", "viewer", "charlie"
PERSONAS = (OWNER, EDITOR, VIEWER, OUTSIDER)


def expected(*, edit: int, view: int, outsider: int = 404) -> dict[str, int]:
    """The status each persona gets: the owner and the editor ``edit``, the viewer ``view``."""
    return {OWNER: edit, EDITOR: edit, VIEWER: view, OUTSIDER: outsider}


def signed_in(user: User) -> APIClient:
    """A client with a real session (SessionAuthentication runs, as in a browser)."""
    client = APIClient()
    client.force_login(user)
    return client


def anonymous() -> APIClient:
    return APIClient()


def with_secret_key(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def make_key(
    *, project: Project, actor: User, kind: str = ApiKeyKind.SECRET, allowed_origins: list[str] | None = None
) -> tuple[ApiKey, str]:
    return services.api_key_create(project=project, actor=actor, kind=kind, allowed_origins=allowed_origins)


def project_url(project: Project, suffix: str = "") -> str:
    return f"{API}/projects/{project.pk}/{suffix}"
