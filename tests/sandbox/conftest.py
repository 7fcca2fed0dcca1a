"""A sandbox alone, with a tiny recording server standing in for the app."""

import json
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.browser import browser  # noqa: F401 - the fixture
from tests.e2e.live import LiveStack, Processes, fresh_secrets, sandbox_start


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every request; answers from `statuses[path]` (a queue), else 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    lock: threading.Lock = field(default_factory=threading.Lock)
    sdk_url: str = ""  # when set, GET /hint/<surface> serves a page using the sandbox's SDK

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path)]


def _surface_page(sdk_url: str) -> bytes:
    """A stand-in surface that shows what the SDK tells it."""
    return f"""<!doctype html><html><body style="margin:0">
<h1 id="who">waiting for the SDK</h1><p id="changed">no change yet</p><p id="query"></p>
<button onclick="setQuery()">Set query</button><button onclick="closeMe()">Close me</button>
<div style="height:420px">tall content</div>
<script src="{sdk_url}"></script>
<script>
HintSDK.init(function (sdk) {{
  var p = sdk.currentPatient, who = document.getElementById("who");
  who.textContent = "init " + (p ? p.name : "no patient") + " for " + sdk.user.name;
}});
HintSDK.onCurrentPatientChanged(function (p) {{
  document.getElementById("changed").textContent = "changed to " + p.name;
}});
HintSDK.onQueryParamsChanged(function (q) {{
  document.getElementById("query").textContent = "query tab=" + q.tab;
}});
function closeMe() {{ HintSDK.close(); }}
function setQuery() {{ HintSDK.updateQueryParams({{tab: "notes"}}); }}
</script></body></html>""".encode()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            with receiver.lock:
                receiver.requests.append(Received(self.command, path, dict(self.headers), body))
                queue = receiver.statuses.get(path)
                status = queue.popleft() if queue else 200
            payload = b"{}"
            content_type = "application/json"
            if self.command == "GET" and path.startswith("/hint/") and receiver.sdk_url:
                payload, content_type = _surface_page(receiver.sdk_url), "text/html"
            elif path.endswith("/handshake") and status == 200:
                payload = json.dumps({"session_key": f"key-{len(receiver.requests)}"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_GET = _answer

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recv))
    recv.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield recv
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[LiveStack]:
    """A live sandbox whose "app" is the receiver. `app_url` is the receiver's URL."""
    procs = Processes(tmp_path_factory.mktemp("sandbox"))
    shared = fresh_secrets()
    try:
        url = sandbox_start(procs, shared, app_url=receiver.url)
        yield LiveStack(app_url=receiver.url, sandbox_url=url, secrets=shared, processes=procs)
    finally:
        procs.stop()
