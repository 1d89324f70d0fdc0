"""Celery tasks of workflows: thin, by id; the state machine is in ``workflows/engine.py``.

``run_step`` runs the step it was sent, then runs inline one of the steps that became ready (so a
chain of steps costs no broker hop) and sends the others to the broker, where idle workers take
them: independent branches run in parallel on different workers.
"""

from __future__ import annotations

from celery import shared_task

from workflows import engine, storage


def _dispatch(step_run_ids: list[int]) -> None:
    """Run the first inline (in this task), send the rest to other workers."""
    pending = list(step_run_ids)
    while pending:
        first, rest = pending[0], pending[1:]
        for step_run_id in rest:
            run_step.delay(step_run_id)
        pending = engine.run_step(first)


@shared_task(name="workflows.advance", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def advance_execution(execution_id: int) -> None:
    _dispatch(engine.advance(execution_id))


@shared_task(name="workflows.run_step", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_step(step_run_id: int) -> None:
    _dispatch([step_run_id])


@shared_task(name="workflows.tick", ignore_result=True)
def tick() -> None:
    """Periodic repairs (beat, every second): reclaim lost steps, due retries, timeouts, admissions."""
    for step_run_id in engine.tick().dispatch:
        run_step.delay(step_run_id)


@shared_task(name="workflows.prune", ignore_result=True)
def prune() -> None:
    storage.prune()
