"""How components and workflows look on disk, and back.

A component is a folder: ``component.yaml`` (its id, project, name, description, kind, settings,
inputs and outputs; an HTTP component's request spec under ``http``) and, for code components,
``code.py``. A workflow is one YAML file: the server's export document with its components by
reference, plus ``id`` and ``project`` on top so that ``push`` knows where it goes.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

COMPONENT_FILE = "component.yaml"
CODE_FILE = "code.py"
# The fields of a component that live in its folder, in the order they are written.
COMPONENT_FIELDS = ("name", "description", "kind", "tags", "icon", "public", "inputs", "outputs", "http")
# Changing one of these makes a new version worth publishing (the others are settings).
VERSIONED_FIELDS = ("kind", "inputs", "outputs", "code", "http")


def slug(name: str, fallback: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text[:60] or fallback


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping")
    return data


# --- components --------------------------------------------------------------------------------


def component_files(component: dict[str, Any]) -> dict[str, str]:
    """The files of a component as the server has it: ``{filename: text}``."""
    meta: dict[str, Any] = {"id": component["id"], "project": component["project"]}
    for field in COMPONENT_FIELDS:
        if field == "http" and component.get("kind") != "http":
            continue
        meta[field] = component.get(field)
    files = {COMPONENT_FILE: dump_yaml(meta)}
    if component.get("kind") == "code":
        files[CODE_FILE] = component.get("code") or ""
    return files


def read_component(folder: Path) -> dict[str, Any]:
    """The component a folder describes: the YAML's fields, with ``code`` from ``code.py``."""
    data = load_yaml(folder / COMPONENT_FILE)
    code = folder / CODE_FILE
    if code.exists():
        data["code"] = code.read_text(encoding="utf-8")
    return data


def write_files(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def component_folders(root: Path) -> list[tuple[int | None, Path]]:
    """Folders under ``root`` holding a component.yaml, with the id each names (``None``: new)."""
    return [(_identifier(path), path.parent) for path in sorted(root.glob(f"*/{COMPONENT_FILE}"))]


def _identifier(path: Path) -> int | None:
    try:
        identifier = load_yaml(path).get("id")
    except (ValueError, yaml.YAMLError):
        return None
    return identifier if isinstance(identifier, int) else None


# --- workflows ---------------------------------------------------------------------------------


def workflow_text(workflow: dict[str, Any], document: dict[str, Any]) -> str:
    return dump_yaml({"id": workflow["id"], "project": workflow["project"], **document})


def workflow_files(root: Path) -> list[tuple[int | None, Path]]:
    """YAML files under ``root``, with the workflow id each names (``None``: new)."""
    return [(_identifier(path), path) for path in sorted([*root.glob("*.yaml"), *root.glob("*.yml")])]


def definition_for_update(document: dict[str, Any]) -> dict[str, Any]:
    """The draft definition the document describes, its steps naming component ids again.

    Only references can be resolved here (the server gives embedded components new ids when it
    imports them): an embedded entry raises ``ValueError``. A step keeps its own ``version``
    (pinned, or null for the latest); the reference's ``version`` only records what the latest was.
    """
    keys: dict[str, int] = {}
    for entry in document.get("components") or []:
        if "ref" in entry:
            keys[entry["key"]] = int(entry["ref"]["component"])
        else:
            raise ValueError(f"component {entry.get('key')!r} is embedded: push takes components by reference")
    definition = dict(document["workflow"]["definition"])
    steps = []
    for step in definition.get("steps") or []:
        if step.get("component") not in keys:
            raise ValueError(f"step {step.get('id')!r} names no component of the document")
        steps.append({**step, "component": keys[step["component"]]})
    definition["steps"] = steps
    return definition
