"""Google Calendar (API v3, https://developers.google.com/workspace/calendar/api/v3/reference)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="google-calendar-create-event",
        title="Google Calendar: create an event",
        icon="📅",
        provider="Google Calendar",
        base_url="https://www.googleapis.com",
        docs="https://developers.google.com/workspace/calendar/api/v3/reference/events/insert",
        description=(
            "Creates an event in a Google calendar between two times in a time zone, with a description, "
            "a location and attendees, who can be sent the invitation."
        ),
        tags=["google", "calendar", "scheduling", "business"],
        inputs=[
            {
                "name": "access_token",
                "type": "secret",
                "description": "An OAuth 2.0 access token with a calendar scope (a Google connection), a credential",
            },
            {"name": "calendar_id", **TEXT, "optional": True, "default": "primary", "description": "primary, or an id"},
            {"name": "summary", **TEXT, "description": "The event's title"},
            {"name": "start", "type": "date", "subtype": "datetime"},
            {"name": "end", "type": "date", "subtype": "datetime"},
            {"name": "time_zone", **TEXT, "optional": True, "default": "UTC", "description": "IANA, e.g. Europe/Paris"},
            {"name": "description", **TEXT, "optional": True, "default": ""},
            {"name": "location", **TEXT, "optional": True, "default": ""},
            {
                "name": "attendees",
                "type": "json",
                "subtype": "array",
                "optional": True,
                "default": [],
                "description": 'Google\'s own shape: [{"email": "ana@example.com"}, …]',
            },
            {
                "name": "send_updates",
                **TEXT,
                "optional": True,
                "default": "none",
                "description": "all, externalOnly or none: who gets the invitation email",
            },
        ],
        outputs=[
            {"name": "id", **TEXT},
            {"name": "url", "type": "text", "subtype": "url", "description": "The event in Google Calendar"},
            {"name": "status", **TEXT},
        ],
        http={
            "method": "POST",
            "url": "https://www.googleapis.com/calendar/v3/calendars/{{ inputs.calendar_id|urlencode }}/events",
            "query": {"sendUpdates": "{{ inputs.send_updates }}"},
            "headers": {"Authorization": "Bearer {{ inputs.access_token }}"},
            "body": {
                "type": "json",
                "value": {
                    "summary": "{{ inputs.summary }}",
                    "description": "{{ inputs.description }}",
                    "location": "{{ inputs.location }}",
                    "start": {"dateTime": "{{ inputs.start }}", "timeZone": "{{ inputs.time_zone }}"},
                    "end": {"dateTime": "{{ inputs.end }}", "timeZone": "{{ inputs.time_zone }}"},
                    "attendees": "{{ inputs.attendees }}",
                },
            },
            "outputs": {"id": "body.id", "url": "body.htmlLink", "status": "body.status"},
            "error_message": "body.error.message",
        },
    ),
)
