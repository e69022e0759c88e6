"""Extractor that talks to an OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server, ...).

``POST {base_url}/chat/completions`` with ``{"model", "messages", "temperature", "max_tokens"}``; the reply text is
``choices[0].message.content``. Standard library only. Timeouts, 429 and 5xx replies are retried with exponential
backoff (a ``Retry-After`` header wins, capped at ``max_backoff_s``); an unreachable server or a refused key stops
the run with one :class:`~crosstrainer.errors.MissingResourceError` line.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request

from crosstrainer.discover.cache import ResponseCache
from crosstrainer.discover.chat import ChatBackend
from crosstrainer.discover.config import DiscoverConfig
from crosstrainer.errors import CrossTrainerError, MissingResourceError, UsageError


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class OpenAIChatBackend(ChatBackend):
    name = "openai"

    def __init__(self, config: DiscoverConfig, cache: ResponseCache | None = None) -> None:
        super().__init__(cache)
        if not config.base_url:
            raise MissingResourceError(
                "the openai backend needs --base-url of an OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1)"
            )
        if not config.model:
            raise UsageError("the openai backend needs --model (the model name the server knows)")
        base = config.base_url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else f"{base}/chat/completions"
        self.model_id = config.model
        self.cfg = config
        self.concurrency = config.max_concurrency
        self.parse_retries = min(2, config.max_retries)
        self.api_key = os.environ.get(config.api_key_env) or None

    def _post(self, body: bytes) -> str:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as resp:
            payload = json.loads(resp.read().decode("utf-8"))
        return str(payload["choices"][0]["message"]["content"] or "")

    def complete(self, messages: list[dict[str, str]]) -> str:
        cfg = self.cfg
        body = json.dumps(
            {"model": cfg.model, "messages": messages, "temperature": cfg.temperature, "max_tokens": cfg.max_tokens}
        ).encode("utf-8")
        last = ""
        for attempt in range(cfg.max_retries + 1):
            wait = cfg.backoff_s * (2**attempt)
            try:
                return self._post(body)
            except urllib.error.HTTPError as exc:
                if exc.code == 429 or exc.code >= 500:
                    hinted = retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
                    wait = hinted if hinted is not None else wait
                    last = f"HTTP {exc.code}"
                elif exc.code in (401, 403):
                    raise MissingResourceError(
                        f"{self.url} refused the request (HTTP {exc.code}); set the API key in ${cfg.api_key_env}"
                    ) from exc
                elif exc.code == 404:
                    raise MissingResourceError(f"{self.url}: HTTP 404 (check --base-url and --model)") from exc
                else:
                    detail = exc.read()[:160].decode("utf-8", "replace").replace("\n", " ")
                    raise CrossTrainerError(f"{self.url}: HTTP {exc.code}: {detail}") from exc
            except urllib.error.URLError as exc:
                if not isinstance(exc.reason, (TimeoutError, socket.timeout)):
                    raise MissingResourceError(f"cannot reach the chat server at {self.url} ({exc.reason})") from exc
                last = f"timed out after {cfg.timeout_s:g} s"
            except TimeoutError:
                last = f"timed out after {cfg.timeout_s:g} s"
            except (http.client.HTTPException, ConnectionError) as exc:
                last = f"connection dropped ({exc.__class__.__name__})"
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                last = f"malformed response body ({exc.__class__.__name__})"
            if attempt < cfg.max_retries:
                time.sleep(min(wait, cfg.max_backoff_s))
        raise MissingResourceError(f"{self.url}: no usable reply after {cfg.max_retries + 1} attempts ({last})")
