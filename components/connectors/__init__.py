"""Official connectors: ready-made components shipped with Synchronise, offered in every project's
catalog (the workflow editor's "Add a step", ``GET /api/v1/connectors/``).

Most are declarative ``http`` components (``components/http_component.py``): a request template,
typed inputs and outputs, credentials through ``secret`` inputs. So a connector runs exactly like a
component a user writes — through the SSRF guard, with the credential host lists, the plan's limits
and ``Idempotency-Key`` — and no shipped Python runs on the host on a user's behalf. The utility
connectors (and the feed reader, which parses untrusted XML) are ``code`` components: they run in
the sandbox like any user code. Installing one (``components.services.connector_install``) copies
it into the project as a published component that the project owns, like a fork; a later release
of the connector does not change it.

Adding one: a module ``components/connectors/<provider>.py`` that defines ``CONNECTORS = (Connector(…), …)``
(every action of that provider), its name in ``MODULES``, and one recorded payload file per action in
``tests/payloads/connectors/<action>.json`` (``docs/connectors.md``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

# One module per provider (or generic connector), each defining CONNECTORS.
MODULES: tuple[str, ...] = (
    "generic_http",
    "rss",
    "smtp",
    "mailgun",
    "sendgrid",
    "postmark",
    "utilities",
    "slack",
    "discord",
    "github",
    "telegram",
    "teams",
    "mattermost",
    "gitlab",
    "linear",
    "stripe",
    "hubspot",
    "airtable",
    "notion",
    "google_sheets",
    "google_calendar",
    "openai",
    "anthropic",
    "jira",
    "twilio",
)


# The message of the email providers that take the same fields (Mailgun, Postmark).
EMAIL_MESSAGE_INPUTS: tuple[dict[str, Any], ...] = (
    {"name": "sender", "type": "text", "description": "From: an address, or Name <address>"},
    {"name": "to", "type": "text", "description": "Recipients, separated by commas"},
    {"name": "cc", "type": "text", "default": ""},
    {"name": "subject", "type": "text"},
    {"name": "text", "type": "text", "default": "", "description": "The plain-text body"},
    {"name": "html", "type": "text", "default": "", "description": "An HTML body"},
)


@dataclass(frozen=True)
class Connector:
    name: str  # stable slug "<provider>-<action>", kept on the installed component (Component.connector)
    title: str
    description: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    http: dict[str, Any] = field(default_factory=dict)  # kind="http": the request spec
    tags: list[str] = field(default_factory=list)
    kind: str = "http"  # "http" or "code"
    code: str = ""  # kind="code": Python defining run(inputs, ctx), standard library only
    icon: str = ""  # a short emoji
    provider: str = ""  # "GitHub", "Slack", "Utility"…
    base_url: str = ""  # the provider's API root; the spec's url starts with it (tests may rewrite it)
    docs: str = ""  # the provider's documentation of the API call

    def as_entry(self) -> dict[str, Any]:
        return {
            "connector": self.name,
            "name": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "icon": self.icon,
            "provider": self.provider,
            "docs": self.docs,
            "kind": self.kind,
            "inputs": self.inputs,
            "outputs": self.outputs,
        }


@cache
def _load() -> tuple[Connector, ...]:
    found: list[Connector] = []
    for module in MODULES:
        found.extend(importlib.import_module(f"components.connectors.{module}").CONNECTORS)
    names = [connector.name for connector in found]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RuntimeError(f"connector names used twice: {', '.join(duplicates)}")
    return tuple(found)


def catalog() -> list[Connector]:
    return list(_load())


def get(name: str) -> Connector | None:
    return next((connector for connector in _load() if connector.name == name), None)
