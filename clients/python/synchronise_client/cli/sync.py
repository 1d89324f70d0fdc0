"""``components pull|push``, ``workflows pull|push`` and ``diff``: the server's components and
workflows as files (see ``layout``), for git."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any

import click

from synchronise_client import Synchronise
from synchronise_client.cli import layout
from synchronise_client.cli.session import CliError, connect, key_project

PAGE = 100
FOLDER = click.Path(path_type=Path)
PUBLISH_HELP = "Publish a new version when the code, inputs, outputs or definition changed (the default)."


def list_all(client: Synchronise, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every row of a paginated list."""
    rows: list[dict[str, Any]] = []
    while True:
        page = client.request("GET", path, params={**params, "limit": PAGE, "offset": len(rows)})
        results = page["results"] if isinstance(page, dict) else page
        rows.extend(results)
        if not isinstance(page, dict) or not page.get("next") or not results:
            return rows


def _chosen(client: Synchronise, path: str, ids: tuple[int, ...]) -> list[dict[str, Any]]:
    if ids:
        return [client.request("GET", f"{path}/{identifier}/") for identifier in ids]
    return list_all(client, f"{path}/")


def _place(root: Path, known: list[tuple[int | None, Path]], identifier: int, name: str, suffix: str = "") -> Path:
    """Where an object goes: where it already is, else a free path named after it."""
    for found, path in known:
        if found == identifier:
            return path
    path = root / f"{layout.slug(name, str(identifier))}{suffix}"
    if path.exists():
        path = root / f"{layout.slug(name, str(identifier))}-{identifier}{suffix}"
    return path


# --- components ------------------------------------------------------------------------------


@click.group()
def components() -> None:
    """Components as folders: component.yaml and code.py."""


@components.command("pull")
@click.argument("ids", nargs=-1, type=int)
@click.option("--dir", "root", default="components", show_default=True, type=click.Path(path_type=Path))
def components_pull(ids: tuple[int, ...], root: Path) -> None:
    """Write the components (all, or IDS) into ROOT/<name>/ as the server has their drafts."""
    client = connect()
    known = layout.component_folders(root) if root.exists() else []
    for component in _chosen(client, "components", ids):
        folder = _place(root, known, component["id"], component["name"])
        layout.write_files(folder, layout.component_files(component))
        click.echo(f"pulled {component['name']} (#{component['id']}) → {folder}")


@components.command("push")
@click.argument("folders", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dir", "root", default="components", show_default=True, type=click.Path(path_type=Path))
@click.option("--project", type=int, help="For new components: the project (default: the key's).")
@click.option("--publish/--no-publish", default=True, help=PUBLISH_HELP)
@click.option("-m", "--message", default="pushed from the CLI", help="The changelog of the new version.")
def components_push(folders: tuple[Path, ...], root: Path, project: int | None, publish: bool, message: str) -> None:
    """Send the folders (all under ROOT, or FOLDERS) to the server; a folder without an id creates one."""
    client = connect()
    chosen = list(folders) or [folder for _id, folder in layout.component_folders(root)]
    if not chosen:
        raise CliError("not_found", f"no component folders under {root} (run `synchronise components pull`)")
    for folder in chosen:
        _push_component(client, folder, project, publish, message)


def _push_component(client: Synchronise, folder: Path, project: int | None, publish: bool, message: str) -> None:
    local = layout.read_component(folder)
    fields = {f: local[f] for f in (*layout.COMPONENT_FIELDS, "code") if f in local}
    identifier = local.get("id")
    if identifier is None:
        target = local.get("project") or project or key_project(client)
        component = client.request("POST", "components/", json={**fields, "project": target})
        changed = list(fields)
        click.echo(f"created {component['name']} (#{component['id']}) from {folder}")
    else:
        server = client.request("GET", f"components/{int(identifier)}/")
        changes = {name: value for name, value in fields.items() if server.get(name) != value}
        if not changes:
            click.echo(f"{server['name']} (#{identifier}) unchanged")
            return
        component = client.request("PATCH", f"components/{int(identifier)}/", json=changes)
        changed = list(changes)
        click.echo(f"pushed {component['name']} (#{identifier}): {', '.join(changed)}")
    layout.write_files(folder, layout.component_files(component))  # the id, for the next push
    if publish and any(name in layout.VERSIONED_FIELDS for name in changed):
        version = client.request("POST", f"components/{component['id']}/publish/", json={"changelog": message})
        click.echo(f"published {component['name']} version {version['number']}")


# --- workflows -------------------------------------------------------------------------------


def _export(client: Synchronise, workflow_id: int) -> dict[str, Any]:
    return client.workflows.export(workflow_id, reference=True)


@click.group()
def workflows() -> None:
    """Workflows as YAML files, their components by reference."""


@workflows.command("pull")
@click.argument("ids", nargs=-1, type=int)
@click.option("--dir", "root", default="workflows", show_default=True, type=click.Path(path_type=Path))
def workflows_pull(ids: tuple[int, ...], root: Path) -> None:
    """Write the workflows' drafts (all, or IDS) into ROOT/<name>.yaml."""
    client = connect()
    known = layout.workflow_files(root) if root.exists() else []
    root.mkdir(parents=True, exist_ok=True)
    for workflow in _chosen(client, "workflows", ids):
        path = _place(root, known, workflow["id"], workflow["name"], ".yaml")
        path.write_text(layout.workflow_text(workflow, _export(client, workflow["id"])), encoding="utf-8")
        click.echo(f"pulled {workflow['name']} (#{workflow['id']}) → {path}")


@workflows.command("push")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dir", "root", default="workflows", show_default=True, type=click.Path(path_type=Path))
@click.option("--project", type=int, help="For new workflows: the project (default: the key's).")
@click.option("--publish/--no-publish", default=True, help=PUBLISH_HELP)
@click.option("-m", "--message", default="pushed from the CLI", help="The changelog of the new version.")
def workflows_push(files: tuple[Path, ...], root: Path, project: int | None, publish: bool, message: str) -> None:
    """Send the YAML files (all under ROOT, or FILES) to the server; a file without an id is imported."""
    client = connect()
    chosen = list(files) or [path for _id, path in layout.workflow_files(root)]
    if not chosen:
        raise CliError("not_found", f"no workflow files under {root} (run `synchronise workflows pull`)")
    for path in chosen:
        _push_workflow(client, path, project, publish, message)


def _push_workflow(client: Synchronise, path: Path, project: int | None, publish: bool, message: str) -> None:
    local = layout.load_yaml(path)
    identifier = local.pop("id", None)
    target = local.pop("project", None) or project
    if identifier is None:
        imported = client.workflows.import_document(target or key_project(client), local)
        workflow = imported["workflow"]
        click.echo(f"imported {workflow['name']} (#{workflow['id']}) from {path}")
    else:
        if local == _export(client, int(identifier)):
            click.echo(f"{local.get('workflow', {}).get('name')} (#{identifier}) unchanged")
            return
        try:
            definition = layout.definition_for_update(local)
        except (KeyError, TypeError, ValueError) as error:
            raise CliError("invalid", f"{path}: {error}") from None
        part = local["workflow"]
        body = {"name": part["name"], "description": part.get("description", ""), "definition": definition}
        workflow = client.request("PATCH", f"workflows/{int(identifier)}/", json={**body, **part.get("settings", {})})
        click.echo(f"pushed {workflow['name']} (#{identifier})")
    path.write_text(layout.workflow_text(workflow, _export(client, workflow["id"])), encoding="utf-8")
    if publish:
        version = client.request("POST", f"workflows/{workflow['id']}/publish/", json={"changelog": message})
        click.echo(f"published {workflow['name']} version {version['number']}")


# --- diff ------------------------------------------------------------------------------------


@click.command()
@click.option(
    "--components", "component_root", default="components", show_default=True, type=click.Path(path_type=Path)
)
@click.option("--workflows", "workflow_root", default="workflows", show_default=True, type=click.Path(path_type=Path))
@click.option("--exit-code", is_flag=True, help="Exit with 1 when something differs (as `git diff --exit-code`).")
def diff(component_root: Path, workflow_root: Path, exit_code: bool) -> None:
    """Show how the local files differ from the server's drafts, as unified diffs."""
    client = connect()
    differs = False
    for identifier, folder in layout.component_folders(component_root) if component_root.exists() else []:
        if identifier is None:
            click.echo(f"new: {folder} (not on the server yet)")
            differs = True
            continue
        server = layout.component_files(client.request("GET", f"components/{identifier}/"))
        for name in sorted(
            {*server, *(p.name for p in folder.iterdir() if p.name in (layout.CODE_FILE, layout.COMPONENT_FILE))}
        ):
            local_file = folder / name
            local = local_file.read_text(encoding="utf-8") if local_file.exists() else ""
            differs |= _show(server.get(name, ""), local, str(local_file))
    for identifier, path in layout.workflow_files(workflow_root) if workflow_root.exists() else []:
        if identifier is None:
            click.echo(f"new: {path} (not on the server yet)")
            differs = True
            continue
        workflow = client.request("GET", f"workflows/{identifier}/")
        server_text = layout.workflow_text(workflow, _export(client, identifier))
        differs |= _show(server_text, path.read_text(encoding="utf-8"), str(path))
    if differs and exit_code:
        sys.exit(1)


def _show(server: str, local: str, name: str) -> bool:
    lines = list(
        difflib.unified_diff(
            server.splitlines(keepends=True), local.splitlines(keepends=True), f"server/{name}", f"local/{name}"
        )
    )
    for line in lines:
        click.echo(line if line.endswith("\n") else line + "\n", nl=False)
    return bool(lines)
