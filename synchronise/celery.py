"""The Celery application. Tasks live in each app's ``tasks.py``."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synchronise.settings")

app = Celery("synchronise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _persistent_database_connections(**_: object) -> None:
    """Workers keep one database connection per process (checked between tasks, below) instead of
    the web's psycopg pool (settings.py): a pool's threads do not survive the fork into Celery's
    pool processes, and a worker process runs one task at a time on one thread. Opening a
    PostgreSQL connection per task cost a few milliseconds of every step."""
    from django.conf import settings

    for database in settings.DATABASES.values():
        database.get("OPTIONS", {}).pop("pool", None)
        if not database.get("CONN_MAX_AGE"):
            database["CONN_MAX_AGE"] = 300
            database["CONN_HEALTH_CHECKS"] = True


@task_prerun.connect
def _drop_broken_connections(**_: object) -> None:
    """Celery does not close the connection around tasks here (``CELERY_DB_REUSE_MAX``): a
    connection that broke or outlived ``CONN_MAX_AGE`` is dropped before the next task instead."""
    from django.db import close_old_connections

    close_old_connections()
