"""Celery tasks of workflows: thin, by id; the state machine is in ``workflows/engine.py``.

``run_step`` runs the step it was sent, then runs inline one of the steps that became ready (so a
chain of steps costs no broker hop) and sends the others to the broker, where idle workers take
them: independent branches run in parallel on different workers.
"""

from __future__ import annotations

from celery import shared_task

from workflows import engine, storage


def _continue(following: engine.Next) -> None:
    """Run the step run the engine leased to this worker, inline, and the ones after it; send the
    others to the broker for idle workers."""
    while True:
        for step_run_id in following.others:
            run_step.delay(step_run_id)
        if following.claimed is None:
            return
        following = engine.run_claimed(following.claimed)


@shared_task(name="workflows.advance", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def advance_execution(execution_id: int) -> None:
    _continue(engine.advance(execution_id, claim=True))


@shared_task(name="workflows.run_step", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_step(step_run_id: int) -> None:
    _continue(engine.run_step(step_run_id))


@shared_task(name="workflows.tick", ignore_result=True)
def tick() -> None:
    """Periodic repairs (beat, every second): reclaim lost steps, due retries, timeouts, admissions."""
    for step_run_id in engine.tick().dispatch:
        run_step.delay(step_run_id)


@shared_task(name="workflows.prune", ignore_result=True)
def prune() -> None:
    storage.prune()


@shared_task(name="workflows.scheduled_run", ignore_result=True)
def scheduled_run(workflow_id: int) -> None:
    """A schedule's slot (sent by beat, see ``workflows/triggers.py``): start the workflow's run."""
    from workflows.triggers import schedule_fire

    schedule_fire(workflow_id=workflow_id)
