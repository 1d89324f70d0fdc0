"""The workflow pages (``/workflows/…``, see ``workflows/page_urls.py``), one module per resource:

* ``lists``: the workflows of the user's projects, create, duplicate, delete;
* ``editor``: the visual editor, its save / publish / run endpoints and the versions fragment;
* ``tabs``: Settings, Triggers and Export;
* ``executions``: execution lists (per workflow and per project), the execution page, the run
  panel's progress fragment, and cancel / restart / replay.

Views are thin: they find the workflow through the user's membership (``access``), change it
through ``workflows.services`` and ``workflows.runs`` only, and render server-side fragments that
``static/synchronise.js`` refreshes when the realtime layer says their data changed.
"""
