"""``manage.py rotate_credentials``: re-encrypt every credential with the current key.

Rotation, step by step (docs/credentials-and-http.md): put a new key first in CREDENTIALS_KEYS and
keep the old ones after it, restart, run this command, then remove the old keys.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from components.credentials import CredentialError, credentials_rotate, generate_key_entry, key_id_of, key_ring
from components.models import Credential


class Command(BaseCommand):
    help = "Re-encrypt project credentials with the first key of CREDENTIALS_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="also re-encrypt rows already under the current key")
        parser.add_argument("--dry-run", action="store_true", help="only count the rows under each key")
        parser.add_argument(
            "--generate-key", metavar="KEY_ID", help="print a new keyid:base64key entry for CREDENTIALS_KEYS and stop"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["generate_key"]:
            try:
                self.stdout.write(generate_key_entry(options["generate_key"]))
            except ValueError as error:
                raise CommandError(str(error)) from None
            return
        ring = key_ring()
        if options["dry_run"]:
            stored = Credential.objects.values_list("ciphertext", flat=True)
            counts = Counter(key_id_of(ciphertext) or "(malformed)" for ciphertext in stored)
            for key_id, count in sorted(counts.items()):
                where = "current" if key_id == ring.current else "in the ring" if key_id in ring.keys else "MISSING"
                self.stdout.write(f"{key_id}: {count} credential(s), key {where}")
            return
        try:
            result = credentials_rotate(everything=options["all"])
        except CredentialError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{result.rotated} credential(s) re-encrypted with key {ring.current!r}; "
            f"{result.already_current} already used it."
        )
