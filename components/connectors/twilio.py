"""Twilio (Programmable Messaging, https://www.twilio.com/docs/messaging/api/message-resource)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="twilio-send-sms",
        title="Twilio: send an SMS",
        icon="📱",
        provider="Twilio",
        base_url="https://api.twilio.com",
        docs="https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource",
        description=(
            "Sends an SMS (or a WhatsApp message with whatsapp: addresses) from a Twilio number or a "
            "Messaging Service; the answer is Twilio's message, queued for delivery."
        ),
        tags=["twilio", "sms", "notify", "business"],
        inputs=[
            {"name": "account_sid", **TEXT, "description": "The account's SID (AC…)"},
            {"name": "auth_token", "type": "secret", "description": "The account's auth token, a credential"},
            {"name": "to", **TEXT, "description": "E.164, e.g. +15558675310"},
            {"name": "body", **TEXT, "description": "The message, up to 1600 characters"},
            {"name": "from_number", **TEXT, "optional": True, "description": "A Twilio number, E.164"},
            {
                "name": "messaging_service_sid",
                **TEXT,
                "optional": True,
                "description": "MG…: send from the service's numbers instead of from_number",
            },
        ],
        outputs=[
            {"name": "sid", **TEXT, "description": "SM…"},
            {"name": "status", **TEXT, "description": "queued, accepted…"},
            {"name": "segments", **TEXT, "optional": True},
        ],
        http={
            "method": "POST",
            "url": "https://api.twilio.com/2010-04-01/Accounts/{{ inputs.account_sid|urlencode }}/Messages.json",
            "auth": {"type": "basic", "username": "{{ inputs.account_sid }}", "credential": "{{ inputs.auth_token }}"},
            "body": {
                "type": "form",
                "value": {
                    "To": "{{ inputs.to }}",
                    "From": "{{ inputs.from_number }}",
                    "MessagingServiceSid": "{{ inputs.messaging_service_sid }}",
                    "Body": "{{ inputs.body }}",
                },
            },
            "outputs": {"sid": "body.sid", "status": "body.status", "segments": "body.num_segments"},
            "error_message": "body.message",
        },
    ),
)
