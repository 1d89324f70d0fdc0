"""Who uses a component, asked before it is deleted.

Components may not import the apps built on them (DESIGN.md §7), so they own this registry and
those apps fill it: ``workflows`` registers a finder that reads its workflows' drafts and versions
(``workflows/component_uses.py``, registered in ``WorkflowsConfig.ready``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from components.models import Component


@dataclass(frozen=True)
class Use:
    """One thing that calls the component: ``blocking`` when deleting it would break what runs
    (e.g. a workflow's latest published version, which its triggers and API calls run)."""

    kind: str  # "workflow"
    id: int
    name: str
    url: str  # its page
    where: str  # what of it uses the component: "published version 3", "the draft"
    blocking: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "where": self.where,
            "blocking": self.blocking,
        }


Finder = Callable[["Component"], list[Use]]
_finders: dict[str, Finder] = {}


def uses_finder(name: str) -> Callable[[Finder], Finder]:
    """Register ``finder`` under ``name`` (registering a name again replaces it: reloads are harmless)."""

    def register(finder: Finder) -> Finder:
        _finders[name] = finder
        return finder

    return register


def component_uses(component: Component) -> list[Use]:
    """Everything that uses ``component``, blocking uses first, each group by name."""
    found = [use for finder in _finders.values() for use in finder(component)]
    return sorted(found, key=lambda use: (not use.blocking, use.name.lower(), use.id))


class ComponentInUse(ValidationError):
    """The component cannot be deleted: ``uses`` (the blocking ones) would break."""

    def __init__(self, uses: list[Use]) -> None:
        self.uses = uses
        names = ", ".join(f"“{use.name}” ({use.where})" for use in uses)
        super().__init__(
            f"it is used by {names}: remove it from those workflows and publish them, or delete them, first",
            code="component_in_use",
        )


def require_unused(component: Component) -> list[Use]:
    """The non-blocking uses (drafts, older versions: they will show a problem); raises
    ``ComponentInUse`` when a use is blocking."""
    uses = component_uses(component)
    blocking = [use for use in uses if use.blocking]
    if blocking:
        raise ComponentInUse(blocking)
    return uses
