"""A minimal Dash HTTP client for tests: what ``dash-renderer`` sends, without a browser.

:class:`DashSession` loads a page (``/``, ``/_dash-layout``, ``/_dash-dependencies``), reads the
server-signed ``end_id`` from the page's ``_dash-config``, and fires callbacks by POSTing
``/_dash-update-component`` with the renderer's payload::

    {"output": "..a.children...b.data..", "outputs": [{"id": "a", "property": "children"}, ...],
     "inputs": [{"id": ..., "property": ..., "value": ...}], "changedPropIds": ["x.n_clicks"],
     "parsedChangedPropsIds": ["x.n_clicks"], "state": [...]}

with ``?endId=<end_id>`` in the query (``handleServerside`` in dash-renderer). A background
callback first answers ``{"cacheKey", "job", ...}`` (handles signed for this page load); the
renderer then re-POSTs the same payload, input and state values nulled, with
``?endId=..&cacheKey=..&job=..`` every ``background.interval`` ms until the answer holds
``"response"`` (the outputs) or is a 204 (no update). Every HTTP status is recorded in
:attr:`DashSession.statuses`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self

import requests

_CONFIG = re.compile(r'<script id="_dash-config" type="application/json">(.*?)</script>', re.DOTALL)
HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


class CallbackFailed(AssertionError):
    """A callback answered neither 200 with outputs nor a poll-again answer."""


def split_output(output: str) -> list[dict[str, str]]:
    """Return the ``outputs`` list of a callback's ``output`` string (multi or single)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [dict(zip(("id", "property"), p.rsplit(".", 1))) for p in parts]


def find_component(tree: Any, component_id: str) -> dict[str, Any] | None:
    """Return the serialized component with ``id`` in a layout tree, or None."""
    for node in _walk(tree):
        if node.get("props", {}).get("id") == component_id:
            return node
    return None


def _walk(tree: Any) -> Iterator[dict[str, Any]]:
    if isinstance(tree, list):
        for item in tree:
            yield from _walk(item)
    elif isinstance(tree, dict):
        if "type" in tree and "props" in tree:
            yield tree
        for value in (tree.get("props", tree)).values():
            yield from _walk(value)


class DashSession:
    """One browser tab's worth of Dash HTTP traffic against ``base`` (``http://host:port``)."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        self.statuses: list[tuple[str, int]] = []
        self.config: dict[str, Any] = {}
        self.layout: Any = None
        self.dependencies: list[dict[str, Any]] = []
        self.polls = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()

    def _record(self, what: str, response: requests.Response) -> requests.Response:
        self.statuses.append((what, response.status_code))
        return response

    def _url(self, path: str) -> str:
        prefix = self.config.get("requests_pathname_prefix") or "/"
        return f"{self.base}{prefix}{path.lstrip('/')}"

    def open(self, path_and_query: str = "/") -> None:
        """Load the page as the renderer does: the HTML, then the layout and dependencies."""
        page = self._record("GET " + path_and_query,
                            self.http.get(self.base + path_and_query, timeout=self.timeout))
        match = _CONFIG.search(page.text)
        if page.status_code != 200 or match is None:
            raise CallbackFailed(f"GET {path_and_query}: {page.status_code}, no _dash-config")
        self.config = json.loads(match.group(1))
        layout = self._record("GET _dash-layout", self.http.get(
            self._url("_dash-layout"), headers=HEADERS, timeout=self.timeout))
        deps = self._record("GET _dash-dependencies", self.http.get(
            self._url("_dash-dependencies"), headers=HEADERS, timeout=self.timeout))
        if layout.status_code == 200:
            self.layout = layout.json()
        if deps.status_code == 200:
            self.dependencies = deps.json()

    def dependency(self, output_id: str, prop: str) -> dict[str, Any]:
        """Return the (server-side) callback whose outputs include ``output_id.prop``."""
        for dep in self.dependencies:
            if {"id": output_id, "property": prop} in split_output(dep["output"]) \
                    and not dep.get("clientside_function"):
                return dep
        raise KeyError(f"no callback outputs {output_id}.{prop}")

    def call(self, dep: Mapping[str, Any], inputs: Mapping[str, Any],
             state: Mapping[str, Any] | None = None, changed: list[str] | None = None,
             deadline_s: float = 60.0) -> dict[str, Any] | None:
        """Fire callback ``dep`` with values keyed ``"id.property"``; return its outputs.

        Returns the answer's ``response`` (``{id: {prop: value}}``), or None for a 204.
        A background callback is polled, as the renderer does, until it answers.
        """
        return self.finish(self.start(dep, inputs, state, changed), deadline_s)

    def start(self, dep: Mapping[str, Any], inputs: Mapping[str, Any],
              state: Mapping[str, Any] | None = None,
              changed: list[str] | None = None) -> PendingCall:
        """Fire callback ``dep`` once (a background one starts its job); :meth:`finish` it."""
        def fill(items: list[dict[str, Any]], values: Mapping[str, Any]) -> list[dict[str, Any]]:
            return [{**item, "value": values.get(f"{item['id']}.{item['property']}")}
                    for item in items]

        outputs = split_output(dep["output"])
        changed = changed if changed is not None else list(inputs)
        payload: dict[str, Any] = {
            "output": dep["output"],
            "outputs": outputs if dep["output"].startswith("..") else outputs[0],
            "inputs": fill(dep["inputs"], inputs),
            "changedPropIds": changed,
            "parsedChangedPropsIds": changed,
        }
        if dep["state"]:
            payload["state"] = fill(dep["state"], state or {})
        args: dict[str, str] = {}
        if self.config.get("end_id"):
            args["endId"] = self.config["end_id"]
        pending = PendingCall(dep, payload, args, payload)
        self._post(pending)
        return pending

    def _post(self, pending: PendingCall) -> None:
        dep = pending.dep
        answer = self._record("POST _dash-update-component", self.http.post(
            self._url("_dash-update-component"), params=pending.args, headers=HEADERS,
            data=json.dumps(pending.body), timeout=self.timeout))
        if answer.status_code == 204:
            pending.done = True
            return
        if answer.status_code != 200:
            raise CallbackFailed(f"{dep['output']}: HTTP {answer.status_code}: "
                                 f"{answer.text[:500]}")
        data = answer.json()
        if not dep.get("background") or "response" in data:
            pending.done, pending.response = True, data["response"]
        elif "cacheKey" in data and "cacheKey" not in pending.args:
            pending.args["cacheKey"] = data["cacheKey"]
            pending.args["job"] = data["job"]
            body = copy.deepcopy(pending.payload)  # polls carry no values, only the context
            for item in body["inputs"] + body.get("state", []):
                item["value"] = None
            pending.body = body
        elif "cacheKey" not in pending.args:
            raise CallbackFailed(f"{dep['output']}: no job handles in {data}")

    def finish(self, pending: PendingCall, deadline_s: float = 60.0) -> dict[str, Any] | None:
        """Poll a started callback, as the renderer does, until it answers; return its outputs
        (None for a 204: no update, as for a cancelled job)."""
        end = time.monotonic() + deadline_s
        interval = (pending.dep.get("background") or {}).get("interval", 500) / 1000
        while not pending.done:
            if time.monotonic() > end:
                raise CallbackFailed(f"{pending.dep['output']}: no result in {deadline_s:.0f} s")
            self.polls += 1
            time.sleep(interval)
            self._post(pending)
        return pending.response


@dataclass
class PendingCall:
    """A callback fired by :meth:`DashSession.start`, not yet answered."""

    dep: Mapping[str, Any]
    payload: dict[str, Any]
    args: dict[str, str]
    body: dict[str, Any]
    done: bool = False
    response: dict[str, Any] | None = None


@contextlib.contextmanager
def serve(flask_app: Any) -> Iterator[str]:
    """Serve ``flask_app`` on 127.0.0.1 (a free port, threaded werkzeug); yield its base URL."""
    import threading

    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(10)


def text_of(tree: Any) -> str:
    """Return the text of a serialized component tree, pieces separated by ``|``."""
    if isinstance(tree, list):
        return "|".join(text_of(t) for t in tree)
    if isinstance(tree, dict):
        return text_of(tree.get("props", {}).get("children"))
    return "" if tree is None else str(tree)
