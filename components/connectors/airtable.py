"""Airtable (Web API, https://airtable.com/developers/web/api/introduction): records of a table."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}
TOKEN = {"name": "token", "type": "secret", "description": "A personal access token (pat…), a credential"}
BASE = {"name": "base_id", **TEXT, "description": "The base's id (app…)"}
TABLE = {"name": "table", **TEXT, "description": "The table's name or id (tbl…)"}
TABLE_URL = (
    "https://api.airtable.com/v0/{{ inputs.base_id|urlencode }}/{{ inputs.table|urlencode|replace('/', '%2F') }}"
)
HEADERS = {"Authorization": "Bearer {{ inputs.token }}"}
ERROR = "body.error.message"

CONNECTORS = (
    Connector(
        name="airtable-create-record",
        title="Airtable: create a record",
        icon="🗂️",
        provider="Airtable",
        base_url="https://api.airtable.com",
        docs="https://airtable.com/developers/web/api/create-records",
        description="Adds a record to an Airtable table, its cell values given by field name.",
        tags=["airtable", "database", "spreadsheet", "business"],
        inputs=[
            TOKEN,
            BASE,
            TABLE,
            {"name": "fields", "type": "json", "subtype": "object", "description": "Cell values by field name"},
            {
                "name": "typecast",
                "type": "bool",
                "optional": True,
                "default": False,
                "description": "Convert text to the field's type (and create select options)",
            },
        ],
        outputs=[
            {"name": "id", **TEXT, "description": "rec…"},
            {"name": "created_time", **TEXT},
            {"name": "fields", "type": "json", "subtype": "object"},
        ],
        http={
            "method": "POST",
            "url": TABLE_URL,
            "headers": HEADERS,
            "body": {"type": "json", "value": {"fields": "{{ inputs.fields }}", "typecast": "{{ inputs.typecast }}"}},
            "outputs": {"id": "body.id", "created_time": "body.createdTime", "fields": "body.fields"},
            "error_message": ERROR,
        },
    ),
    Connector(
        name="airtable-list-records",
        title="Airtable: list records",
        icon="🗂️",
        provider="Airtable",
        base_url="https://api.airtable.com",
        docs="https://airtable.com/developers/web/api/list-records",
        description=(
            "Lists a table's records, optionally those of a view or matching a formula; pages of 100 are "
            "followed with the offset Airtable returns, up to max_pages."
        ),
        tags=["airtable", "database", "spreadsheet", "business"],
        inputs=[
            TOKEN,
            BASE,
            TABLE,
            {"name": "view", **TEXT, "optional": True, "description": "Only this view's records, in its order"},
            {"name": "filter_by_formula", **TEXT, "optional": True, "description": "e.g. {Status} = 'Done'"},
            {"name": "max_records", "type": "number", "subtype": "integer", "optional": True},
            {"name": "max_pages", "type": "number", "subtype": "integer", "optional": True, "default": 10},
        ],
        outputs=[{"name": "records", "type": "json", "subtype": "array", "description": "{id, createdTime, fields}"}],
        http={
            "method": "GET",
            "url": TABLE_URL,
            "query": {
                "pageSize": "100",
                "view": "{{ inputs.view }}",
                "filterByFormula": "{{ inputs.filter_by_formula }}",
                "maxRecords": "{{ inputs.max_records }}",
            },
            "headers": HEADERS,
            "paginate": {
                "items": "body.records",
                "next": {"cursor": "body.offset", "param": "offset"},
                "max_pages": "{{ inputs.max_pages }}",
            },
            "outputs": {"records": "items"},
            "error_message": ERROR,
        },
    ),
)
