"""Stripe (https://docs.stripe.com/api): customers, payment intents, invoices.

Stripe takes form-encoded bodies (nested keys in brackets) and answers errors as
``{"error": {"type", "code", "message", "param"}}``. Every request carries the run's
``Idempotency-Key``, which Stripe honours, so a retried step does not charge twice."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}
API_KEY = {"name": "api_key", "type": "secret", "description": "A secret or restricted key (sk_… / rk_…), a credential"}
HEADERS = {"Authorization": "Bearer {{ inputs.api_key }}"}
ERROR = "body.error.message"

CONNECTORS = (
    Connector(
        name="stripe-create-customer",
        title="Stripe: create a customer",
        icon="💳",
        provider="Stripe",
        base_url="https://api.stripe.com",
        docs="https://docs.stripe.com/api/customers/create",
        description="Creates a Stripe customer with an email, a name, a phone number and a description.",
        tags=["stripe", "payments", "business"],
        inputs=[
            API_KEY,
            {"name": "email", "type": "text", "subtype": "email", "optional": True},
            {"name": "name", **TEXT, "optional": True, "description": "Full name or business name"},
            {"name": "phone", **TEXT, "optional": True},
            {"name": "description", **TEXT, "optional": True},
        ],
        outputs=[
            {"name": "id", **TEXT, "description": "cus_…"},
            {"name": "email", **TEXT, "optional": True},
            {"name": "created", "type": "number", "subtype": "integer", "description": "Unix time"},
        ],
        http={
            "method": "POST",
            "url": "https://api.stripe.com/v1/customers",
            "headers": HEADERS,
            # A field whose input is left out is not sent.
            "body": {
                "type": "form",
                "value": {
                    "email": "{{ inputs.email }}",
                    "name": "{{ inputs.name }}",
                    "phone": "{{ inputs.phone }}",
                    "description": "{{ inputs.description }}",
                },
            },
            "outputs": {"id": "body.id", "email": "body.email", "created": "body.created"},
            "error_message": ERROR,
        },
    ),
    Connector(
        name="stripe-create-payment-intent",
        title="Stripe: create a payment intent",
        icon="💳",
        provider="Stripe",
        base_url="https://api.stripe.com",
        docs="https://docs.stripe.com/api/payment_intents/create",
        description=(
            "Creates a PaymentIntent for an amount in the currency's smallest unit, with the payment "
            "methods enabled in the Dashboard; its client_secret completes the payment on the client."
        ),
        tags=["stripe", "payments", "business"],
        inputs=[
            API_KEY,
            {
                "name": "amount",
                "type": "number",
                "subtype": "integer",
                "description": "In the smallest unit: 2000 = $20.00",
            },
            {"name": "currency", **TEXT, "default": "usd", "optional": True, "description": "ISO code, lowercase"},
            {"name": "customer", **TEXT, "optional": True, "description": "A customer id (cus_…)"},
            {"name": "description", **TEXT, "optional": True},
            {"name": "receipt_email", "type": "text", "subtype": "email", "optional": True},
        ],
        outputs=[
            {"name": "id", **TEXT, "description": "pi_…"},
            {"name": "status", **TEXT, "description": "requires_payment_method, succeeded…"},
            {"name": "client_secret", **TEXT, "description": "For Stripe.js on the paying client"},
            {"name": "amount", "type": "number", "subtype": "integer"},
            {"name": "currency", **TEXT},
        ],
        http={
            "method": "POST",
            "url": "https://api.stripe.com/v1/payment_intents",
            "headers": HEADERS,
            "body": {
                "type": "form",
                "value": {
                    "amount": "{{ inputs.amount }}",
                    "currency": "{{ inputs.currency }}",
                    "customer": "{{ inputs.customer }}",
                    "description": "{{ inputs.description }}",
                    "receipt_email": "{{ inputs.receipt_email }}",
                    "automatic_payment_methods[enabled]": "true",
                },
            },
            "outputs": {
                "id": "body.id",
                "status": "body.status",
                "client_secret": "body.client_secret",
                "amount": "body.amount",
                "currency": "body.currency",
            },
            "error_message": ERROR,
        },
    ),
    Connector(
        name="stripe-list-invoices",
        title="Stripe: list invoices",
        icon="💳",
        provider="Stripe",
        base_url="https://api.stripe.com",
        docs="https://docs.stripe.com/api/invoices/list",
        description=(
            "Lists invoices, newest first, of one customer or all, optionally by status; pages of 100 "
            "are followed with starting_after while has_more, up to max_pages."
        ),
        tags=["stripe", "payments", "invoices", "business"],
        inputs=[
            API_KEY,
            {"name": "customer", **TEXT, "optional": True, "description": "Only this customer's (cus_…)"},
            {"name": "status", **TEXT, "optional": True, "description": "draft, open, paid, uncollectible or void"},
            {"name": "max_pages", "type": "number", "subtype": "integer", "optional": True, "default": 10},
        ],
        outputs=[
            {"name": "invoices", "type": "json", "subtype": "array", "description": "Every invoice of every page"}
        ],
        http={
            "method": "GET",
            "url": "https://api.stripe.com/v1/invoices",
            "query": {"limit": "100", "customer": "{{ inputs.customer }}", "status": "{{ inputs.status }}"},
            "headers": HEADERS,
            "paginate": {
                "items": "body.data",
                "next": {"cursor": "body.data.-1.id", "param": "starting_after", "more": "body.has_more"},
                "max_pages": "{{ inputs.max_pages }}",
            },
            "outputs": {"invoices": "items"},
            "error_message": ERROR,
        },
    ),
)
