"""The code samples of the "connect" page: how to call the platform with a project's keys.

Keys are stored hashed, so a stored key can only be shown by its prefix; the snippets then
carry a visible placeholder. Right after a key is created its plaintext fills them, once.
"""

from __future__ import annotations

from dataclasses import dataclass

SECRET_PLACEHOLDER = "sk_…"  # noqa: S105 - a visible placeholder, not a key
PUBLISHABLE_PLACEHOLDER = "pk_…"


@dataclass(frozen=True)
class Snippet:
    slug: str
    label: str
    language: str
    code: str


def connect_snippets(*, base_url: str, secret: str | None = None, publishable: str | None = None) -> list[Snippet]:
    """curl, browser JavaScript and Python samples for the platform at ``base_url``."""
    base = base_url.rstrip("/")
    sk = secret or SECRET_PLACEHOLDER
    pk = publishable or PUBLISHABLE_PLACEHOLDER
    curl = f"""curl {base}/api/v1/projects/ \\
  -H "Authorization: Bearer {sk}\""""
    javascript = f"""<script src="{base}/static/synchronise.js"></script>
<script>
  // A publishable key only runs this project's components and workflows,
  // from the origins you allow: it is safe in a web page.
  Synchronise.init("{pk}");

  Synchronise.Component.run("COMPONENT_ID", {{ name: "Ada" }}, {{
    success: (data) => console.log(data),
    error: (error) => console.error(error.code, error.message),
  }});
</script>"""
    python = f"""import requests

session = requests.Session()
# A secret key has the full API: keep it on your server, never in a browser.
session.headers["Authorization"] = "Bearer {sk}"

response = session.get("{base}/api/v1/projects/", timeout=10)
response.raise_for_status()
print(response.json())"""
    return [
        Snippet("curl", "curl", "shell", curl),
        Snippet("javascript", "JavaScript", "html", javascript),
        Snippet("python", "Python", "python", python),
    ]
