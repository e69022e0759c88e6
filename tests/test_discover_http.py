"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (started here; not a mock object).

The server is scripted per test: it answers good JSON, a malformed reply, a 429 with Retry-After, or sleeps past
the client's timeout, and counts the requests it receives.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crosstrainer.discover import DiscoverConfig, Item
from crosstrainer.discover.cache import ResponseCache
from crosstrainer.discover.http_backend import OpenAIChatBackend, retry_after_seconds
from crosstrainer.errors import MissingResourceError

GOOD = '{"praise": false, "attributes": [{"name": "Knee Alignment", "evidence": "bend the knees"}]}'


class ChatServer:
    """A tiny chat-completions server; ``script`` is a list of actions consumed one per request."""

    def __init__(self) -> None:
        self.script: list[tuple] = []
        self.default: tuple = ("reply", GOOD)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                    action = outer.script.pop(0) if outer.script else outer.default
                kind = action[0]
                if kind == "sleep":
                    time.sleep(action[1])
                    kind, action = "reply", ("reply", GOOD)
                if kind == "status":
                    self.send_response(action[1])
                    for k, v in action[2].items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": action[1]}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = ChatServer()
    yield srv
    srv.close()


def _backend(server: ChatServer, tmp_path, **kw) -> OpenAIChatBackend:
    cfg = DiscoverConfig(backend="openai", base_url=server.url, model="test-model", backoff_s=0.01, **kw)
    return OpenAIChatBackend(cfg, ResponseCache(tmp_path / "cache"))


ITEMS = [Item("a", "He needs to bend the knees more.", "basketball"), Item("b", "Elbow flares out.", "basketball")]


def test_good_json_is_parsed_and_request_is_openai_shaped(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = _backend(server, tmp_path).extract(ITEMS[:1])
    assert out[0].attributes == ["knee alignment"] and out[0].evidence["knee alignment"] == "bend the knees"
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["model"] == "test-model" and req["body"]["messages"][-1]["role"] == "user"
    assert "bend the knees" in req["body"]["messages"][-1]["content"]


def test_malformed_reply_is_repaired_without_a_new_request(server, tmp_path):
    server.script = [("reply", '```json\n{"praise": False, "attributes": ["timing", "balance",],}\n```')]
    out = _backend(server, tmp_path).extract(ITEMS[:1])
    assert out[0].attributes == ["timing", "balance"] and len(server.requests) == 1


def test_unparsable_reply_is_retried_with_a_repair_message(server, tmp_path):
    server.script = [("reply", "Sorry, I think the knees."), ("reply", GOOD)]
    out = _backend(server, tmp_path).extract(ITEMS[:1])
    assert out[0].attributes == ["knee alignment"] and out[0].error is None
    assert len(server.requests) == 2
    assert "not valid JSON" in server.requests[1]["body"]["messages"][-1]["content"]


def test_429_with_retry_after_is_honoured(server, tmp_path):
    server.script = [("status", 429, {"Retry-After": "1"})]
    t0 = time.monotonic()
    out = _backend(server, tmp_path).extract(ITEMS[:1])
    assert time.monotonic() - t0 >= 0.9  # waited the server's Retry-After, not the 0.01 s backoff
    assert out[0].attributes == ["knee alignment"] and len(server.requests) == 2


def test_timeout_is_retried(server, tmp_path):
    server.script = [("sleep", 1.5)]
    out = _backend(server, tmp_path, timeout_s=0.5).extract(ITEMS[:1])
    assert out[0].attributes == ["knee alignment"] and len(server.requests) == 2


def test_persistent_5xx_gives_one_clear_error(server, tmp_path):
    server.default = ("status", 503, {})
    with pytest.raises(MissingResourceError, match="no usable reply after 3 attempts"):
        _backend(server, tmp_path, max_retries=2).extract(ITEMS[:1])


def test_resumed_run_makes_zero_requests(server, tmp_path):
    first = _backend(server, tmp_path, max_concurrency=2).extract(ITEMS)
    n = len(server.requests)
    assert n == 2
    again = _backend(server, tmp_path).extract(ITEMS)
    assert len(server.requests) == n  # everything came from the on-disk cache
    assert [e.attributes for e in again] == [e.attributes for e in first]


def test_unreachable_server_and_missing_base_url_are_clear_errors(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = DiscoverConfig(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m", backoff_s=0.01)
    with pytest.raises(MissingResourceError, match="cannot reach the chat server"):
        OpenAIChatBackend(cfg).extract(ITEMS[:1])
    with pytest.raises(MissingResourceError, match="--base-url"):
        OpenAIChatBackend(DiscoverConfig(backend="openai", model="m"))


def test_retry_after_parses_seconds_and_dates():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert 0 <= retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") < 1  # a date in the past: no wait
