"""Data-change events, published after the transaction commits.

Services in every app call ``publish_change(room, filters=…, recipients=…)`` when they change
data. The realtime app installs the sink that turns a change into ``cloud.data_update``
messages (``realtime/publish.py``); this module has no models and imports no app, so apps
below ``realtime`` in the dependency order (``accounts``) can publish too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

Sink = Callable[[str, Mapping[str, Any], list[int] | None], None]
_sinks: list[Sink] = []


def install_sink(sink: Sink) -> None:
    if sink not in _sinks:
        _sinks.append(sink)


def publish_change(
    room: str, *, filters: Mapping[str, Any] | None = None, recipients: Iterable[int] | None = None
) -> None:
    """After commit, tell every sink that the data behind ``room`` changed.

    ``room`` is the name of the cloud function (or service) that changed the data,
    ``filters`` the values that identify what changed (``{"id": 7}``), ``recipients`` the
    user ids allowed to hear about it (``None``: whoever subscribed). Rolled-back changes
    publish nothing.
    """
    frozen_filters = dict(filters or {})
    frozen_recipients = sorted(set(recipients)) if recipients is not None else None

    def deliver() -> None:
        for sink in list(_sinks):
            try:
                sink(room, frozen_filters, frozen_recipients)
            except Exception:
                # A change is committed whatever happens to its notification.
                logger.exception("publishing %s failed", room)

    transaction.on_commit(deliver, robust=True)
