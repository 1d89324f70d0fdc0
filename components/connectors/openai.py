"""OpenAI-compatible APIs (https://platform.openai.com/docs/api-reference): chat completions and
embeddings. The base URL is an input, so any server speaking the same API works (Azure OpenAI's
v1 endpoint, Mistral, Groq, OpenRouter, vLLM, Ollama…)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}
API_KEY = {"name": "api_key", "type": "secret", "description": "The API key (sk-…), a credential"}
BASE_URL = {
    "name": "base_url",
    "type": "text",
    "subtype": "url",
    "optional": True,
    "default": "https://api.openai.com/v1",
    "description": "The API root of any OpenAI-compatible server",
}
HEADERS = {"Authorization": "Bearer {{ inputs.api_key }}"}
ERROR = "body.error.message"

# The conversation: `messages` as given, else an optional system message and the prompt.
MESSAGES = (
    "{{ inputs.messages if inputs.messages else "
    "([{'role': 'system', 'content': inputs.system}] if inputs.system else []) "
    "+ [{'role': 'user', 'content': inputs.prompt}] }}"
)

CONNECTORS = (
    Connector(
        name="openai-chat-completion",
        title="OpenAI: chat completion",
        icon="🤖",
        provider="OpenAI",
        docs="https://platform.openai.com/docs/api-reference/chat/create",
        description=(
            "Asks a chat model for a reply to a prompt (with an optional system message) or to a whole "
            "conversation, through OpenAI or any OpenAI-compatible server."
        ),
        tags=["openai", "ai", "llm", "chat"],
        inputs=[
            API_KEY,
            {"name": "model", **TEXT, "optional": True, "default": "gpt-4o-mini"},
            {"name": "prompt", **TEXT, "optional": True, "default": "", "description": "The user's message"},
            {"name": "system", **TEXT, "optional": True, "default": "", "description": "Instructions for the model"},
            {
                "name": "messages",
                "type": "json",
                "subtype": "array",
                "optional": True,
                "description": "A whole conversation [{role, content}, …], instead of prompt and system",
            },
            {
                "name": "temperature",
                "type": "number",
                "optional": True,
                "description": "0-2; the model's default if not given",
            },
            {"name": "max_completion_tokens", "type": "number", "subtype": "integer", "optional": True},
            BASE_URL,
        ],
        outputs=[
            {"name": "content", **TEXT, "description": "The reply"},
            {"name": "finish_reason", **TEXT, "description": "stop, length, content_filter…"},
            {"name": "model", **TEXT},
            {"name": "id", **TEXT},
            {"name": "usage", "type": "json", "subtype": "object", "optional": True, "description": "Token counts"},
        ],
        http={
            "method": "POST",
            "url": "{{ inputs.base_url.rstrip('/') }}/chat/completions",
            "headers": HEADERS,
            "body": {
                "type": "json",
                "value": {
                    "model": "{{ inputs.model }}",
                    "messages": MESSAGES,
                    # null is "not given" for these two.
                    "temperature": "{{ inputs.temperature }}",
                    "max_completion_tokens": "{{ inputs.max_completion_tokens }}",
                },
            },
            "outputs": {
                "content": "body.choices.0.message.content",
                "finish_reason": "body.choices.0.finish_reason",
                "model": "body.model",
                "id": "body.id",
                "usage": "body.usage",
            },
            "error_message": ERROR,
        },
    ),
    Connector(
        name="openai-embeddings",
        title="OpenAI: embeddings",
        icon="🤖",
        provider="OpenAI",
        docs="https://platform.openai.com/docs/api-reference/embeddings/create",
        description=(
            "Turns a text into an embedding vector (a list of floats) for search, clustering or "
            "similarity, through OpenAI or any OpenAI-compatible server."
        ),
        tags=["openai", "ai", "embeddings"],
        inputs=[
            API_KEY,
            {"name": "input", **TEXT, "description": "The text to embed"},
            {"name": "model", **TEXT, "optional": True, "default": "text-embedding-3-small"},
            BASE_URL,
        ],
        outputs=[
            {"name": "embedding", "type": "json", "subtype": "array", "description": "The vector"},
            {"name": "model", **TEXT},
            {"name": "usage", "type": "json", "subtype": "object", "optional": True},
        ],
        http={
            "method": "POST",
            "url": "{{ inputs.base_url.rstrip('/') }}/embeddings",
            "headers": HEADERS,
            "body": {
                "type": "json",
                "value": {"model": "{{ inputs.model }}", "input": "{{ inputs.input }}", "encoding_format": "float"},
            },
            "outputs": {"embedding": "body.data.0.embedding", "model": "body.model", "usage": "body.usage"},
            "error_message": ERROR,
        },
    ),
)
