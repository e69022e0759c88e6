"""MTL-AQA (Parmar & Morris, CVPR 2019): Olympic diving with TV commentary and judges' scores.

Reads the ``Ready_2_Use/MTL-AQA_split_0_data`` pickles of the dataset release (no video is needed)::

    final_captions_dict.pkl     {(event, dive): ['<sos>', 'and', 'a', 'half', ..., '<eos>']}   # 1,416 dives
    final_annotations_dict.pkl  {(event, dive): {'final_score': 88.0, 'difficulty': 3.2, 'start_frame': 7377, ...}}
    train_split_0.pkl / test_split_0.pkl   [(event, dive), ...]

and returns one :class:`~crosstrainer.data.sample.Sample` per captioned dive::

    Sample(id="mtl_aqa/01_001", source="mtl_aqa", sport="diving", split="train",
           commentary=[Commentary(text="and a half somersault over the three point two tariffs ...")],
           meta={"event": 1, "dive": 1, "final_score": 88.0, "difficulty": 3.2, "start_frame": 7377, ...})

The commentary has no per-dive timestamp, so ``time_s`` is ``None``. The data carries no licence to redistribute:
read it from where you keep it, never copy it into a package.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from crosstrainer.data.sample import Commentary, Sample
from crosstrainer.errors import InputNotFoundError, InvalidAnnotationError

CAPTIONS = "final_captions_dict.pkl"
ANNOTATIONS = "final_annotations_dict.pkl"
SPLIT_DIR = "MTL-AQA_split_0_data"
_SPECIAL = {"<sos>", "<eos>", "<pad>", "<unk>"}


def _load_pickle(path: Path) -> Any:
    """Unpickle a Python-2 era pickle (tries the default encoding first, then latin1)."""
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except UnicodeDecodeError:
        with path.open("rb") as fh:
            return pickle.load(fh, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise InvalidAnnotationError(f"{path}: not a readable pickle ({exc})") from exc


def find_split_dir(root: str | Path) -> Path:
    """The folder holding ``final_captions_dict.pkl`` under ``root`` (the dataset folder or any folder inside it)."""
    root = Path(root)
    if not root.exists():
        raise InputNotFoundError(f"MTL-AQA folder not found: {root}")
    if (root / CAPTIONS).is_file():
        return root
    preferred = sorted(p.parent for p in root.rglob(CAPTIONS) if p.parent.name == SPLIT_DIR)
    found = preferred or sorted(p.parent for p in root.rglob(CAPTIONS))
    if not found:
        raise InputNotFoundError(f"{root}: no {CAPTIONS} found (expected .../Ready_2_Use/{SPLIT_DIR}/{CAPTIONS})")
    return found[0]


def caption_text(tokens: list[str] | str) -> str:
    """Join a tokenised caption into plain text without ``<sos>``/``<eos>``."""
    words = tokens.split() if isinstance(tokens, str) else [str(t) for t in tokens]
    return " ".join(w for w in words if w not in _SPECIAL).strip()


def load_mtl_aqa(root: str | Path) -> list[Sample]:
    """All captioned dives under ``root`` as samples (sorted by event, dive); scores and splits when present."""
    split_dir = find_split_dir(root)
    captions = _load_pickle(split_dir / CAPTIONS)
    if not isinstance(captions, dict):
        raise InvalidAnnotationError(f"{split_dir / CAPTIONS}: expected a dict of captions")
    annotations = _load_pickle(split_dir / ANNOTATIONS) if (split_dir / ANNOTATIONS).is_file() else {}
    splits: dict[Any, str] = {}
    for name in ("train", "test"):
        path = split_dir / f"{name}_split_0.pkl"
        if path.is_file():
            splits.update({tuple(k): name for k in _load_pickle(path)})
    samples = []
    for key in sorted(captions):
        event, dive = key
        meta: dict[str, Any] = {"event": int(event), "dive": int(dive)}
        meta.update({k: (v.item() if hasattr(v, "item") else v) for k, v in annotations.get(key, {}).items()})
        samples.append(
            Sample(
                id=f"mtl_aqa/{int(event):02d}_{int(dive):03d}",
                source="mtl_aqa",
                sport="diving",
                split=splits.get(tuple(key)),
                commentary=[Commentary(text=caption_text(captions[key]))],
                meta=meta,
            )
        )
    return samples


load = load_mtl_aqa
