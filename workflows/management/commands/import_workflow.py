"""``manage.py import_workflow <file> --project <id> --user <email>``: create a workflow from a document.

The user must be allowed to edit the project. Embedded components are created and published
there; references must name components of that project. On any error nothing is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Project, User
from workflows import transfer
from workflows.management.commands.export_workflow import describe


class Command(BaseCommand):
    help = "Import a workflow from a JSON document made by export_workflow (or the API's export)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the document; - for the standard input")
        parser.add_argument("--project", type=int, required=True, help="the id of the project to import into")
        parser.add_argument("--user", required=True, help="the email of the member who imports (needs 'edit')")
        parser.add_argument("--name", help="a name for the workflow; default: the document's")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = sys.stdin.read() if options["file"] == "-" else Path(options["file"]).read_text(encoding="utf-8")
            document = json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CommandError(f"cannot read {options['file']}: {error}") from None
        project = Project.objects.filter(pk=options["project"]).first()
        if project is None:
            raise CommandError(f"no project {options['project']}")
        user = User.objects.filter(email__iexact=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']}")
        try:
            result = transfer.workflow_import(project=project, actor=user, document=document, name=options["name"])
        except Project.DoesNotExist:
            raise CommandError(f"{user.email} is not a member of {project.name!r}") from None
        except PermissionDenied as error:
            raise CommandError(f"{user.email} may not import into {project.name!r}: {error}") from None
        except ValidationError as error:
            raise CommandError("nothing was imported:\n" + describe(error)) from None
        workflow = result.workflow
        self.stdout.write(f"imported workflow {workflow.pk} {workflow.name!r} into {project.name!r}")
        for component in result.components:
            self.stdout.write(f"  created component {component.pk} {component.name!r} (published)")
        if workflow.problems:
            self.stdout.write(f"  the draft has {len(workflow.problems)} problem(s); fix them before publishing")
        if result.missing_credentials:
            self.stdout.write("  add these credentials to the project: " + ", ".join(result.missing_credentials))
