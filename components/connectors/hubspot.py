"""HubSpot (CRM API v3, https://developers.hubspot.com/docs/api/crm/contacts)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="hubspot-create-contact",
        title="HubSpot: create a contact",
        icon="🧲",
        provider="HubSpot",
        base_url="https://api.hubapi.com",
        docs="https://developers.hubspot.com/docs/api/crm/contacts",
        description=(
            "Creates a contact in the HubSpot CRM with an email, a first and last name, a phone and a company; "
            "an email that is already a contact's is refused (409)."
        ),
        tags=["hubspot", "crm", "business"],
        inputs=[
            {"name": "access_token", "type": "secret", "description": "A private app's access token, a credential"},
            {"name": "email", "type": "text", "subtype": "email"},
            {"name": "firstname", **TEXT, "optional": True, "default": ""},
            {"name": "lastname", **TEXT, "optional": True, "default": ""},
            {"name": "phone", **TEXT, "optional": True, "default": ""},
            {"name": "company", **TEXT, "optional": True, "default": ""},
        ],
        outputs=[
            {"name": "id", **TEXT, "description": "The contact's record id"},
            {"name": "created_at", **TEXT},
            {"name": "properties", "type": "json", "subtype": "object"},
        ],
        http={
            "method": "POST",
            "url": "https://api.hubapi.com/crm/v3/objects/contacts",
            "headers": {"Authorization": "Bearer {{ inputs.access_token }}"},
            "body": {
                "type": "json",
                "value": {
                    "properties": {
                        "email": "{{ inputs.email }}",
                        "firstname": "{{ inputs.firstname }}",
                        "lastname": "{{ inputs.lastname }}",
                        "phone": "{{ inputs.phone }}",
                        "company": "{{ inputs.company }}",
                    }
                },
            },
            "outputs": {"id": "body.id", "created_at": "body.createdAt", "properties": "body.properties"},
            "error_message": "body.message",
        },
    ),
)
