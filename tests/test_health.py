from __future__ import annotations

import json
import urllib.request

import pytest


def test_healthz_reports_every_service_up(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["services"]) == {"database", "cache", "channel_layer", "broker"}
    assert body["down"] == []


def test_healthz_names_what_is_down(client, db):
    from synchronise.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


@pytest.mark.django_db(transaction=True)
def test_healthz_through_the_asgi_server(asgi_url):
    with urllib.request.urlopen(asgi_url + "/healthz", timeout=10) as response:
        assert response.status == 200
        assert json.load(response)["status"] == "ok"
