"""Declarative HTTP components (``kind=http``): a request template, a response mapping, no code.

The spec, stored in ``Component.http`` (docs/credentials-and-http.md, docs/connectors.md)::

    {
      "method": "POST",
      "url": "https://api.example.com/v1/items/{{ inputs.id|urlencode }}",
      "query": {"expand": "{{ inputs.expand }}"},
      "headers": {"Authorization": "Bearer {{ secrets.EXAMPLE_TOKEN }}"},
      "body": {"type": "json", "value": {"name": "{{ inputs.name }}", "count": "{{ inputs.count }}"}},
      "outputs": {"id": "body.data.id", "status": "status", "total": "headers.X-Total-Count"},
      "error_message": "body.error.message",
      "ok_when": "", "fail_when": "", "error_statuses": {},
      "paginate": null,
      "sign": null
    }

Every string is a Jinja2 template over ``inputs`` and ``secrets``, rendered in a sandboxed
environment that allows expressions only (no ``{% … %}`` statements) and caps the size of what
operators, methods and filters produce. A string that is one ``{{ expression }}`` keeps its native
type (``"{{ inputs.count }}"`` stays an int in a JSON body). ``secrets`` can be read by name only
(``secrets.NAME``), never listed; an unknown name is an error naming it.

``body.type``: ``json``, ``form`` (url-encoded), ``multipart`` (``multipart/form-data`` text
fields), ``raw`` (one template, sent with ``content_type``) or ``email`` (sent by SMTP to an
``smtp://`` or ``smtps://`` url: ``smtp.py``). ``paginate`` follows ``Link: rel="next"`` or a
cursor; ``sign`` adds an HMAC-SHA256 header over the exact body bytes.

The modules, by responsibility: ``spec`` (validation), ``request`` (rendering, bodies, signing),
``answer`` (output paths, error mapping), ``run`` (sending, pagination), ``smtp`` (email).

Errors are ``{code, message, reason, status?, retry_after?}``: ``reason`` ``auth`` (401/403),
``rate_limit`` (429, ``retry_after`` from ``Retry-After``), ``validation`` (other 4xx, and a 2xx
answer that ``ok_when``/``fail_when`` call failed: code 400 unless ``error_statuses`` maps its
message), ``remote`` (5xx), ``timeout`` (code 109), ``blocked``/``unreachable``/``too_large``
(502), ``spec``/``template``/``credential_host`` (400).
"""

from __future__ import annotations

from components.http_component.answer import TIMED_OUT, TRANSPORT_FAILED
from components.http_component.run import BUILD_FAILED, HttpRunResult, run_http_component, sensitive_header
from components.http_component.spec import validate_http_spec

__all__ = [
    "BUILD_FAILED",
    "TIMED_OUT",
    "TRANSPORT_FAILED",
    "HttpRunResult",
    "run_http_component",
    "sensitive_header",
    "validate_http_spec",
]
