"""Celery tasks of components: thin, by id, the work is in ``components/runs.py``."""

from __future__ import annotations

from celery import shared_task

from components.runs import run_execute


@shared_task(name="components.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_component(execution_id: int) -> None:
    run_execute(execution_id)
