"""``manage.py export_workflow <id> [--reference] [--workflow-version N] [-o file]``: a workflow as a JSON document.

The format is described in ``workflows/transfer.py`` and docs/workflows-api.md. Credentials are
never written, only the names the workflow refers to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from workflows import transfer
from workflows.models import Workflow


class Command(BaseCommand):
    help = "Export a workflow (and its components) as a JSON document."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workflow", type=int, help="the workflow's id")
        parser.add_argument(
            "--reference",
            action="store_true",
            help="point at the components instead of copying them in (importable in the same project only)",
        )
        parser.add_argument(
            "--workflow-version", dest="workflow_version", type=int, help="a published version; default: the draft"
        )
        parser.add_argument("-o", "--output", help="write to this file instead of the standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = Workflow.objects.select_related("project").filter(pk=options["workflow"]).first()
        if workflow is None:
            raise CommandError(f"no workflow {options['workflow']}")
        try:
            document = transfer.workflow_export(
                workflow=workflow,
                components=transfer.REFERENCE if options["reference"] else transfer.EMBEDDED,
                version=options["workflow_version"],
            )
        except ValidationError as error:
            raise CommandError(describe(error)) from None
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"exported {workflow.name!r} to {options['output']}")
        else:
            self.stdout.write(text, ending="")


def describe(error: ValidationError) -> str:
    """Each problem on a line of its own, with where it is."""
    if not hasattr(error, "error_dict"):
        return "\n".join(error.messages)
    return "\n".join(f"{where}: {message}" for where, messages in error.message_dict.items() for message in messages)
