"""Official connectors: ready-made components shipped with Synchronise, offered in every project's
catalog (the workflow editor's "Add a step", ``GET /api/v1/connectors/``).

Each is a declarative ``http`` component (``components/http_component.py``): a request template,
typed inputs and outputs, credentials through ``secret`` inputs. So a connector runs exactly like a
component a user writes — through the SSRF guard, with the credential host lists, the plan's limits
and ``Idempotency-Key`` — and no shipped Python runs on a user's behalf. Installing one
(``components.services.connector_install``) copies it into the project as a published component
that the project owns, like a fork; a later release of the connector does not change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Connector:
    name: str  # stable slug, kept on the installed component (Component.connector)
    title: str
    description: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    http: dict[str, Any]
    tags: list[str] = field(default_factory=list)

    def as_entry(self) -> dict[str, Any]:
        return {
            "connector": self.name,
            "name": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "kind": "http",
            "inputs": self.inputs,
            "outputs": self.outputs,
        }


def catalog() -> list[Connector]:
    from components.connectors.official import CONNECTORS

    return list(CONNECTORS)


def get(name: str) -> Connector | None:
    return next((connector for connector in catalog() if connector.name == name), None)
