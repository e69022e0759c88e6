"""Pose augmentations for keypoint-based training samples.

The landmark CSVs carry normalised coordinates of unknown aspect ratio and frame rate, filmed from one side;
videos at inference come from any camera. Augmentations cover that gap: random temporal crop, horizontal
aspect stretch, left/right mirror, playback-speed change and small coordinate jitter.
"""

from __future__ import annotations

import numpy as np

from crosstrainer.keypoints.skeleton import JOINTS, PoseSequence

_MIRROR = [JOINTS.index(n.replace("left_", "§").replace("right_", "left_").replace("§", "right_")) for n in JOINTS]


def crop(pose: PoseSequence, start_s: float, end_s: float) -> PoseSequence:
    """Frames with ``start_s <= t < end_s`` (at least one frame), times kept absolute."""
    t = pose.times_s
    keep = (t >= start_s - 1e-9) & (t < end_s - 1e-9)
    if not keep.any():
        keep[int(np.argmin(np.abs(t - start_s)))] = True
    return PoseSequence(pose.xy[keep], pose.conf[keep], t[keep], pose.fps, pose.source, dict(pose.meta))


def augment(pose: PoseSequence, rng: np.random.Generator, min_len_s: float = 0.6) -> PoseSequence:
    xy, conf = pose.xy.copy(), pose.conf.copy()
    n = len(pose)
    fps = pose.fps * float(rng.uniform(0.75, 1.33))  # playback speed
    min_frames = max(1, min(n, round(min_len_s * fps)))
    length = int(rng.integers(min_frames, n + 1))
    start = int(rng.integers(0, n - length + 1))
    xy, conf = xy[start : start + length], conf[start : start + length]
    centre = np.nanmean(xy.reshape(-1, 2), axis=0)
    xy[..., 0] = (xy[..., 0] - centre[0]) * float(np.exp(rng.uniform(np.log(0.6), np.log(1.7)))) + centre[0]
    if rng.random() < 0.5:  # mirror: flip x and swap left/right joints
        xy[..., 0] = 2 * centre[0] - xy[..., 0]
        xy, conf = xy[:, _MIRROR], conf[:, _MIRROR]
    scale = float(np.nanmedian(np.abs(xy[..., 1] - centre[1]))) or 1.0
    xy = xy + rng.normal(0.0, 0.004 * scale, xy.shape).astype(np.float32)
    return PoseSequence(xy, conf, np.arange(length) / fps, fps, pose.source, dict(pose.meta))
