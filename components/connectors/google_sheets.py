"""Google Sheets (API v4, https://developers.google.com/workspace/sheets/api/reference/rest)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}
TOKEN = {
    "name": "access_token",
    "type": "secret",
    "description": "An OAuth 2.0 access token with the spreadsheets scope (a Google connection), a credential",
}
SPREADSHEET = {"name": "spreadsheet_id", **TEXT, "description": "The id in the sheet's URL (/d/<id>/edit)"}
VALUES_URL = (
    "https://sheets.googleapis.com/v4/spreadsheets/{{ inputs.spreadsheet_id|urlencode }}"
    "/values/{{ inputs.range|urlencode|replace('/', '%2F') }}"
)
HEADERS = {"Authorization": "Bearer {{ inputs.access_token }}"}
ERROR = "body.error.message"

CONNECTORS = (
    Connector(
        name="google-sheets-append-row",
        title="Google Sheets: append a row",
        icon="📊",
        provider="Google Sheets",
        base_url="https://sheets.googleapis.com",
        docs="https://developers.google.com/workspace/sheets/api/reference/rest/v4/spreadsheets.values/append",
        description=(
            "Appends a row after the last row of the table found in a range, the values interpreted as if "
            "typed in (formulas, dates, numbers) or kept as they are."
        ),
        tags=["google", "sheets", "spreadsheet", "business"],
        inputs=[
            TOKEN,
            SPREADSHEET,
            {
                "name": "range",
                **TEXT,
                "optional": True,
                "default": "Sheet1",
                "description": "A1 notation: Sheet1 or Sheet1!A:D",
            },
            {"name": "values", "type": "json", "subtype": "array", "description": "The row's cells, left to right"},
            {
                "name": "value_input_option",
                **TEXT,
                "optional": True,
                "default": "USER_ENTERED",
                "description": "USER_ENTERED (parsed as typed) or RAW",
            },
        ],
        outputs=[
            {"name": "updated_range", **TEXT, "description": "Where the row went, e.g. Sheet1!A5:D5"},
            {"name": "updated_rows", "type": "number", "subtype": "integer"},
            {"name": "table_range", **TEXT, "optional": True, "description": "The table appended to"},
        ],
        http={
            "method": "POST",
            "url": VALUES_URL + ":append",
            "query": {"valueInputOption": "{{ inputs.value_input_option }}", "insertDataOption": "INSERT_ROWS"},
            "headers": HEADERS,
            "body": {
                "type": "json",
                "value": {"range": "{{ inputs.range }}", "majorDimension": "ROWS", "values": ["{{ inputs.values }}"]},
            },
            "outputs": {
                "updated_range": "body.updates.updatedRange",
                "updated_rows": "body.updates.updatedRows",
                "table_range": "body.tableRange",
            },
            "error_message": ERROR,
        },
    ),
    Connector(
        name="google-sheets-read-range",
        title="Google Sheets: read a range",
        icon="📊",
        provider="Google Sheets",
        base_url="https://sheets.googleapis.com",
        docs="https://developers.google.com/workspace/sheets/api/reference/rest/v4/spreadsheets.values/get",
        description="Reads the cells of a range as rows of values, formatted as shown in the sheet or unformatted.",
        tags=["google", "sheets", "spreadsheet", "business"],
        inputs=[
            TOKEN,
            SPREADSHEET,
            {"name": "range", **TEXT, "description": "A1 notation: Sheet1!A1:D10, or a sheet's name for all of it"},
            {
                "name": "value_render_option",
                **TEXT,
                "optional": True,
                "default": "FORMATTED_VALUE",
                "description": "FORMATTED_VALUE, UNFORMATTED_VALUE or FORMULA",
            },
        ],
        outputs=[
            {"name": "range", **TEXT, "description": "The range read, e.g. Sheet1!A1:D10"},
            {
                "name": "values",
                "type": "json",
                "subtype": "array",
                "optional": True,
                "description": "Rows; none when empty",
            },
        ],
        http={
            "method": "GET",
            "url": VALUES_URL,
            "query": {"majorDimension": "ROWS", "valueRenderOption": "{{ inputs.value_render_option }}"},
            "headers": HEADERS,
            "outputs": {"range": "body.range", "values": "body.values"},
            "error_message": ERROR,
        },
    ),
)
