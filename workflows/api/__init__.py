"""The workflows REST API (``/api/v1/workflows/…``, ``/api/v1/workflow-executions/…``) and the
original ``POST /workflow/run``; routes in ``workflows/urls.py`` and ``workflows/legacy_urls.py``.

* ``access.py``: which workflows and executions a request reaches, and with what permission;
* ``workflows.py``: the workflows themselves, versions, validation, import and export;
* ``runs.py``: running a workflow (sync or async), through the API and the original route;
* ``executions.py``: reading and steering executions (cancel, replay, restart).
"""
