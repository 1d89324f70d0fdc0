"""Celery tasks of components: thin, by id, the work is in ``components/runs.py``."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_process_init

from components.runs import run_execute

logger = logging.getLogger(__name__)


@shared_task(name="components.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_component(execution_id: int) -> None:
    run_execute(execution_id)


@worker_process_init.connect
def warm_sandbox(**_: object) -> None:
    """Start this worker process's sandbox pool now, so the first run does not pay for it."""
    from components.sandbox import get_pool

    try:
        get_pool().start()
    except Exception:  # a pool that cannot start reports it on each run (error 123)
        logger.warning("the sandbox pool did not start; code components will fail with 123", exc_info=True)
