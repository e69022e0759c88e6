"""Skill-attribute discovery from expert commentary (``crosstrainer discover``).

Backends (``DiscoverConfig.backend``): ``offline`` (rules + MiniLM, the default, no LLM), ``openai`` (any
OpenAI-compatible chat endpoint), ``transformers`` (a local instruct model, or the embedded SmolLM2).
See ``docs/attributes.md``.
"""

from crosstrainer.discover.config import DiscoverConfig
from crosstrainer.discover.items import Item, ItemResult, read_items, window_for
from crosstrainer.discover.pipeline import discover, make_backend, write_items
from crosstrainer.discover.prompt import Extraction, build_messages, parse_reply, repair_json

__all__ = [
    "DiscoverConfig",
    "Extraction",
    "Item",
    "ItemResult",
    "build_messages",
    "discover",
    "make_backend",
    "parse_reply",
    "read_items",
    "repair_json",
    "window_for",
    "write_items",
]
