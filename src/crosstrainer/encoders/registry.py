"""``build_encoder(name, **config)``: the frozen video encoders ``crosstrainer extract`` can run.

=============  ==========================================================================================
``pose``       MediaPipe pose (``crosstrainer.video.pose.PoseEstimator``) + kinematic features
               (``crosstrainer.encoders.kinematics.KinematicEncoder``); also reads keypoint files and the
               in-memory poses of the pose-CSV datasets. Options: ``sample_fps``, ``max_side``.
``clip``       CLIP image embeddings from a local checkpoint (``checkpoint=PATH``, ``samples_per_second``,
               ``batch_size``, ``device``); see :mod:`crosstrainer.encoders.clip`.
``precomputed``  Per-take feature files (``root=DIR``, ``key``, ``fps``, ``tag``); see
               :mod:`crosstrainer.encoders.precomputed`.
=============  ==========================================================================================

Heavy modules (mediapipe, transformers) are imported only when their encoder is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crosstrainer.encoders.base import ClipFeatures, VideoEncoder
from crosstrainer.errors import InputNotFoundError, MissingResourceError, UsageError

if TYPE_CHECKING:
    from crosstrainer.keypoints.skeleton import PoseSequence

ENCODERS = ("pose", "clip", "precomputed")
Progress = Callable[[str, float], None]


def input_kind(path: str | Path, kind: str = "auto") -> Literal["video", "keypoints"]:
    """Decide how to read an existing input: keypoint files (.npy, .json, a folder of OpenPose JSON) or a video."""
    from crosstrainer.keypoints.io import KEYPOINT_SUFFIXES

    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"no such file: {p}")
    if kind in ("video", "keypoints"):
        return kind  # type: ignore[return-value]
    if kind != "auto":
        raise UsageError(f"--kind must be auto, video or keypoints, not {kind!r}")
    return "keypoints" if p.is_dir() or p.suffix.lower() in KEYPOINT_SUFFIXES else "video"


class PoseEncoder:
    """Video or keypoints -> ``PoseSequence`` -> per-second kinematic features (the embedded model's encoder).

    The one place where an input becomes a pose and a pose becomes features: ``crosstrainer assess``, ``extract``
    and training all go through it.
    """

    name = "pose"

    def __init__(self, sample_fps: float = 10.0, max_side: int = 640, **kinematics: Any) -> None:
        from crosstrainer.encoders.kinematics import KinematicEncoder

        self.kinematics = KinematicEncoder(**kinematics)
        self.sample_fps, self.max_side = sample_fps, max_side
        self.version = str(self.kinematics.version)
        self.dim = int(self.kinematics.dim)
        self._estimator: Any = None

    def config(self) -> dict[str, Any]:
        return {"kinematics": self.kinematics.config(), "sample_fps": self.sample_fps, "max_side": self.max_side}

    def info(self) -> dict[str, Any]:
        """What a model manifest records of its encoder (the kinematic features the projector reads)."""
        k = self.kinematics
        return {"name": k.name, "version": k.version, "config": k.config(), "dim": k.dim}

    @property
    def estimator(self) -> Any:
        """The MediaPipe pose estimator, built on first use (keypoint inputs never need it)."""
        if self._estimator is None:
            from crosstrainer.video.pose import PoseEstimator

            self._estimator = PoseEstimator(sample_fps=self.sample_fps, max_side=self.max_side)
        return self._estimator

    def read(
        self,
        path: str | Path,
        kind: str = "auto",
        skeleton: str | None = None,
        fps: float | None = None,
        progress: Progress | None = None,
    ) -> tuple[PoseSequence, Literal["video", "keypoints"], dict[str, float]]:
        """(pose, kind, ``{"duration_s", "fps"}`` of the input) for a video or a keypoint file."""
        k = input_kind(path, kind)
        if k == "keypoints":
            from crosstrainer.keypoints.io import load_keypoints

            pose = load_keypoints(path, skeleton=skeleton, fps=fps)
            return pose, k, {"duration_s": pose.duration_s, "fps": pose.fps}
        pose = self.estimator.estimate(path, progress=(lambda f: progress("pose", f)) if progress else None)
        video = pose.meta.get("video", {})
        info = {"duration_s": float(video.get("duration_s", pose.duration_s)), "fps": float(video.get("fps", pose.fps))}
        return pose, k, info

    def encode(self, source: Any) -> ClipFeatures:
        """Features of a ``PoseSequence``, a keypoint file or a video."""
        from crosstrainer.keypoints.skeleton import PoseSequence

        if not isinstance(source, PoseSequence):
            source = self.read(source)[0]
        return self.kinematics.encode(source)


class FileFeatureReader:
    """What a model that does not read poses assesses: precomputed feature files, or CLIP on a video's frames.

    ``read(path)`` -> (``ClipFeatures``, kind, ``{"duration_s", "fps"}``). A precomputed model reads a feature file
    given directly, or the file of a take in the ``--features`` folder: the input names the take (a take uid or
    name that is not a file, or a video whose file or take folder names it; see :meth:`PrecomputedEncoder.names_for`).
    A CLIP model encodes the video's frames with its local checkpoint.
    """

    def __init__(self, encoder: Any, model_name: str, view: str | None = None, trained_on: str | None = None) -> None:
        self.encoder, self.model_name, self.view, self.trained_on = encoder, model_name, view, trained_on
        self.name = str(encoder.name)

    def lookup(self, path: str | Path, source_name: str | None = None) -> Path:
        """The feature file for an input (precomputed models only); a one-line error naming what is missing.
        ``source_name``: the input's original name when ``path`` is a renamed copy (an upload)."""
        from crosstrainer.encoders.precomputed import SUFFIXES

        p = Path(path)
        if p.is_file() and p.suffix.lower() in SUFFIXES:
            return p
        enc = self.encoder
        if enc.root is None:
            trained = f" (trained on {self.trained_on})" if self.trained_on else ""
            raise MissingResourceError(
                f"{self.model_name} reads precomputed {enc.describe()}{trained}: pass --features DIR with "
                "<take_uid>_<cam>_<stream>.pt files (or give a feature file as the input)"
            )
        names = [p.name, p.stem]
        if source_name:
            names[:0] = [Path(source_name).name, Path(source_name).stem]
        parts = p.parts
        if "takes" in parts[:-1]:  # Ego-Exo4D: <root>/takes/<take_name>/frame_aligned_videos/<cam>.mp4
            i = parts.index("takes")
            names.insert(0, parts[i + 1])
            uid = _take_uid_of(Path(*parts[:i]) / "takes.json", parts[i + 1])
            if uid:  # the release names feature files by take uid
                names.insert(0, uid)
        take_names = list(dict.fromkeys(n for n in names if n))
        candidates: list[str] = []
        for n in take_names:
            candidates += enc._camera_names(n, self.view or "ego", {})
            candidates.append(n)
        found = enc.find(candidates)
        if found is None:
            raise InputNotFoundError(
                f"no feature file for {p} in {enc.root} (tried {', '.join(f'{c}.pt' for c in candidates[:4])}): "
                f"this model reads {enc.describe()}, one file per take, named <take_uid>_<cam>_<stream>.pt "
                "or <take_uid>.pt"
            )
        return found

    def read(
        self, path: str | Path, progress: Progress | None = None, source_name: str | None = None
    ) -> tuple[ClipFeatures, Literal["video", "features"], dict[str, float]]:
        if self.name == "clip":
            from crosstrainer.video.decode import probe_video

            if not Path(path).is_file():
                raise InputNotFoundError(f"no such file: {path}")
            info = probe_video(path)
            if progress:
                progress("features", 0.0)
            clip = self.encoder.encode(path)
            return clip, "video", {"duration_s": float(info.duration_s or clip.num_seconds), "fps": float(info.fps)}
        file = self.lookup(path, source_name)
        clip = self.encoder.encode(file)
        return clip, "features", {"duration_s": float(clip.num_seconds), "fps": float(clip.meta["source_fps"])}


def _take_uid_of(takes_json: Path, take_name: str) -> str | None:
    """The ``take_uid`` of ``take_name`` in an Ego-Exo4D ``takes.json`` (None when there is no such file or take)."""
    import json

    try:
        takes = json.loads(takes_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for take in takes if isinstance(takes, list) else []:
        if isinstance(take, dict) and take.get("take_name") == take_name and take.get("take_uid"):
            return str(take["take_uid"])
    return None


def _describe_encoder(encoder: dict[str, Any]) -> str:
    config = encoder.get("config") or {}
    tag = config.get("family") or config.get("tag")
    return f"{encoder.get('name')}" + (f" ({tag})" if tag else "")


def encoder_for_model(
    encoder: dict[str, Any],
    in_dim: int | None,
    where: str | Path = "",
    *,
    features: str | Path | None = None,
    clip_checkpoint: str | Path | None = None,
    features_info: dict[str, Any] | None = None,
) -> PoseEncoder | FileFeatureReader:
    """The encoder a model manifest names (``{"name", "version", "config", "dim"}``), ready to read inputs.

    - pose-kinematics (the embedded models): the pose encoder, which reads videos and keypoint files;
    - ``clip``: CLIP from the local checkpoint ``clip_checkpoint`` (its version must match the manifest's);
    - anything else (``precomputed``, a cache of another extractor, features given per sample): feature files,
      from ``features`` (a folder, as ``--features``) or given directly as the input.

    ``features_info``: what training recorded of its feature files (``manifest.train["features"]``: family, rate,
    view). Anything missing or mismatched is a one-line error naming it (ModelError, MissingResourceError).
    """
    from crosstrainer.errors import ModelError

    name, version = encoder.get("name"), str(encoder.get("version"))
    where = str(where)
    pose = PoseEncoder()
    if name == pose.kinematics.name:
        if version != pose.version:
            raise ModelError(
                f"{where}: trained with encoder {name} v{version}, but this crosstrainer computes {name} "
                f"v{pose.version}: retrain the model with this version (crosstrainer train) or install the "
                "crosstrainer version that trained it (model.json: train.crosstrainer_version)"
            )
        if in_dim != pose.dim:
            raise ModelError(f"{where}: the projector expects {in_dim}-d features, not {pose.dim}")
        if features is not None or clip_checkpoint is not None:
            raise UsageError(f"{where} reads videos and keypoints (pose): --features/--clip-checkpoint do not apply")
        return pose
    if name == "clip" and features is None:
        if clip_checkpoint is None:
            ckpt = (encoder.get("config") or {}).get("checkpoint", "?")
            raise MissingResourceError(
                f"{where} reads CLIP features of the checkpoint {ckpt!r} (version {version}): pass --clip-checkpoint "
                "PATH (that local Hugging Face folder), or --features DIR with precomputed files"
            )
        from crosstrainer.encoders.clip import ClipImageEncoder, checkpoint_version

        path = Path(clip_checkpoint).expanduser()
        if (path / "config.json").is_file() and checkpoint_version(path) != version:
            raise ModelError(
                f"{where}: trained on CLIP checkpoint version {version}, but {path} is {checkpoint_version(path)}"
            )
        cfg = encoder.get("config") or {}
        clip = ClipImageEncoder(path, samples_per_second=int(cfg.get("samples_per_second", 1)))
        if in_dim != clip.dim:
            raise ModelError(f"{where}: the projector expects {in_dim}-d features, not {clip.dim} (CLIP at {path})")
        return FileFeatureReader(clip, where)
    if clip_checkpoint is not None:
        what = _describe_encoder(encoder)
        raise UsageError(f"{where} reads precomputed features ({what}): --clip-checkpoint does not apply")
    from crosstrainer.encoders.precomputed import FAMILIES, PrecomputedEncoder

    cfg = dict(encoder.get("config") or {})
    info = dict(features_info or {})
    family = cfg.get("family") or info.get("family")
    fps = cfg.get("fps") or info.get("fps")
    tag = cfg.get("tag") or info.get("tag") or (name if name != "precomputed" else None)
    reader = PrecomputedEncoder(
        root=features,
        key=cfg.get("key"),
        fps=fps,
        tag=tag,
        family=family if family in FAMILIES else None,
        view=info.get("view"),
    )
    return FileFeatureReader(reader, where, view=info.get("view"), trained_on=info.get("folder"))


def build_encoder(name: str, **config: Any) -> VideoEncoder:
    """An encoder by name with its options (unknown names or options are a one-line UsageError)."""
    name = name.lower()
    if name == "pose":
        factory: Any = PoseEncoder
    elif name == "clip":
        from crosstrainer.encoders.clip import ClipImageEncoder

        if not config.get("checkpoint"):
            raise MissingResourceError("the clip encoder needs a local checkpoint folder: --clip-checkpoint PATH")
        factory = ClipImageEncoder
    elif name == "precomputed":
        from crosstrainer.encoders.precomputed import PrecomputedEncoder

        factory = PrecomputedEncoder
    else:
        raise UsageError(f"unknown encoder {name!r} (choose from {', '.join(ENCODERS)})")
    config = {k: v for k, v in config.items() if v is not None}
    params = inspect.signature(factory.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in config if k not in params]
        if unknown:
            accepted = ", ".join(k for k in params if k != "self")
            raise UsageError(f"encoder {name!r} has no option {unknown[0]!r} (options: {accepted})")
    return factory(**config)
