"""Property-based: random and mutated requests never get a 5xx, and only an authenticated, valid
notification ever reaches a decision (every decision is in the audit log, so we count them)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.actions.helpers import TOKEN, Receiver, alert, notification

# A host label no test node has: any alert that does get through is refused, one decision each.
BASE = notification(alert(host="node-z", fingerprint="a1"), alert(host="node-z", fingerprint="a2",
                                                                   action="kill_workloads"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                        max_size=4),
    max_leaves=10)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(body)[1:]))
        parent = body
        for step in where[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(where[-1], None)
        else:
            parent[where[-1]] = draw(json_values)
    return json.dumps(body).encode()


bodies = st.one_of(st.binary(max_size=300), mutated(),
                   json_values.map(lambda v: json.dumps(v).encode()),
                   mutated().map(lambda b: b[: len(b) // 2]))
authorizations = st.one_of(st.none(), st.just(f"Bearer {TOKEN}"), st.text(max_size=40),
                           st.just(f"Bearer {TOKEN[:-1]}"), st.just(f"bearer  {TOKEN} "))
methods = st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE"])


def test_random_requests(start_receiver) -> None:
    receiver: Receiver = start_receiver()
    accepted_alerts = []

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(method=methods, body=bodies, authorization=authorizations)
    def one(method: str, body: bytes, authorization: str | None) -> None:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization.encode("utf-8", "replace").decode("latin-1")
        try:
            response = receiver.session.request(method, f"{receiver.url}/alerts", data=body,
                                                headers=headers, timeout=10)
        except ValueError:
            return  # a header requests itself refuses to send
        assert response.status_code < 500, (response.status_code, response.text)
        parts = (authorization or "").strip().split(" ")
        parts = [p for p in parts if p]
        authorized = len(parts) == 2 and parts[0].lower() == "bearer" and parts[1] == TOKEN
        if method != "POST":
            assert response.status_code == 405
        elif not authorized:
            assert response.status_code == 401
        else:
            assert response.status_code in (200, 400)
        if response.status_code == 200:
            accepted_alerts.append(response.json()["alerts"])

    one()
    # A last, valid notification: once its decision is logged, all earlier ones have been decided.
    assert receiver.post(notification(alert(host="node-z", fingerprint="sentinel"))).status_code == 200
    receiver.wait_decisions(fingerprint="sentinel")
    decisions = receiver.decisions()
    assert len(decisions) == sum(accepted_alerts) + 1
    assert all(d["result"] in ("not_this_node", "no_action", "unknown_action") for d in decisions)
    for line in receiver.metrics().splitlines():
        if line.startswith("gpuguard_actions_total{"):
            assert 'result="applied"' not in line and 'result="killed"' not in line
