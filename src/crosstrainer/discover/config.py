"""Settings of ``crosstrainer discover``, loadable from YAML (``--config``); command-line options override them.

Example ``discover.yaml``::

    backend: openai            # offline | openai | transformers
    base_url: http://127.0.0.1:11434/v1
    model: llama3.1:8b
    window_s: 5.0
    merge_threshold: 0.8
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crosstrainer.errors import UsageError

Backend = Literal["offline", "openai", "transformers"]


class DiscoverConfig(BaseModel):
    """Every knob of attribute discovery, with its default."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = Field("offline", description="Extractor: offline (no LLM), openai (HTTP chat), transformers.")
    sport: str | None = Field(None, description="Sport for input items that do not name one.")
    window_s: float = Field(5.0, gt=0, description="Width of the window (s) that ends at each comment's time.")
    seed_vocabulary: str | None = Field(None, description="Seed vocabulary file; None = the bundled one.")
    seed_threshold: float = Field(
        0.55, ge=0, le=1, description="Offline: cosine similarity at which a clause is mapped onto a seed attribute."
    )
    name_seed_threshold: float = Field(
        0.75, ge=0, le=1, description="Cosine similarity at which a short attribute name joins a seed attribute."
    )
    merge_threshold: float = Field(
        0.7, ge=0, le=1, description="Cosine similarity at which two new attribute names are merged into one."
    )
    min_count: int = Field(2, ge=1, description="Attributes seen in fewer items are dropped from the vocabulary.")
    min_sports_transferable: int = Field(
        2, ge=1, description="A non-seed attribute seen in at least this many sports counts as sport-agnostic."
    )
    max_examples: int = Field(3, ge=0, description="Example comments kept per attribute.")
    praise_margin: float = Field(
        0.0, description="Offline: a clause is praise when praise score - correction score exceeds this."
    )
    # HTTP chat endpoint (OpenAI-compatible: OpenAI, vLLM, Ollama, llama.cpp server, ...)
    base_url: str | None = Field(None, description="Chat endpoint base URL, e.g. http://127.0.0.1:8000/v1.")
    model: str | None = Field(None, description="Model name sent to the endpoint (or a label for --model-path).")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key (optional).")
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout in seconds.")
    max_concurrency: int = Field(4, ge=1, description="Requests in flight at once.")
    max_retries: int = Field(4, ge=0, description="Retries after a timeout, 429 or 5xx reply, or unparsable JSON.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry (Retry-After wins).")
    max_backoff_s: float = Field(60.0, ge=0, description="Longest single wait between retries.")
    temperature: float = Field(0.0, ge=0, description="Sampling temperature sent to the LLM.")
    max_tokens: int = Field(200, ge=8, description="Most tokens the LLM may generate per comment.")
    # Local transformers model
    model_path: str | None = Field(None, description='Local instruct model folder, or "smollm2" for the embedded one.')
    # Response cache (both LLM backends)
    cache_dir: str | None = Field(None, description="Response cache folder; None = '<out stem>.cache' beside --out.")
    use_cache: bool = Field(True, description="Reuse cached LLM replies keyed by (model, prompt).")

    @classmethod
    def from_yaml(cls, path: str | Path) -> DiscoverConfig:
        """Read a YAML (or JSON) mapping of the fields above."""
        from crosstrainer.yamlio import read_yaml_mapping

        return cls.build(read_yaml_mapping(path, "discover config"), source=str(path))

    @classmethod
    def build(cls, data: dict[str, Any], source: str = "options") -> DiscoverConfig:
        """Validate ``data``; a bad field becomes one clear :class:`UsageError` line."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "config"
            raise UsageError(f"{source}: {where}: {first['msg']}") from exc

    def updated(self, **overrides: Any) -> DiscoverConfig:
        """A copy with the non-``None`` overrides applied (and validated)."""
        data = self.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return self.build(data)
