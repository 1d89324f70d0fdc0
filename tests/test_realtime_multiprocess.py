"""Two ASGI server processes share the channel layer: a change made through one reaches a socket on the other."""

from __future__ import annotations

import json
import urllib.request

import pytest
from websockets.sync.client import connect

from accounts import services
from tests import servers
from tests.realtime_helpers import session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def test_a_change_through_server_a_reaches_a_socket_on_server_b(alice, bob, project):
    _key, secret = services.api_key_create(project=project, actor=bob, name="server A")
    cookie = session_cookie(alice).decode()
    with servers.asgi_server() as server_a, servers.asgi_server() as server_b:
        ws_url = server_b.replace("http://", "ws://") + "/ws/"
        with connect(ws_url, additional_headers={"Cookie": cookie, "Origin": server_b}, open_timeout=10) as socket:
            socket.send(json.dumps({
                "type": "cloud.run", "function": "getProject", "params": {"id": project.pk},
                "request_id": "watch", "realtime": True,
            }))  # fmt: skip
            first = json.loads(socket.recv(timeout=10))
            assert first["status"] == 200
            assert first["data"]["name"] == "Alice's project"

            request = urllib.request.Request(
                server_a + "/api/v1/cloud/createOrUpdateProject",
                data=json.dumps({"id": project.pk, "name": "Renamed on A"}).encode(),
                headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert json.load(response)["name"] == "Renamed on A"

            assert json.loads(socket.recv(timeout=5)) == {"type": "cloud.data_update", "request_id": "watch"}
