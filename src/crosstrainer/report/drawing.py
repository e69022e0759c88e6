"""Draw a CT17 skeleton on a frame (or on a blank canvas) and encode it for embedding in HTML.

>>> import numpy as np
>>> from crosstrainer.keypoints.skeleton import NUM_JOINTS
>>> frame = np.zeros((120, 160, 3), np.uint8)
>>> xy = np.full((NUM_JOINTS, 2), 60.0, np.float32); conf = np.ones(NUM_JOINTS, np.float32)
>>> draw_skeleton(frame, xy, conf).shape
(120, 160, 3)
>>> to_data_uri(frame)[:23]
'data:image/jpeg;base64,'
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageDraw

from crosstrainer.keypoints.skeleton import NUM_JOINTS, J

BONES: tuple[tuple[str, str], ...] = (
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("left_ankle", "left_heel"),
    ("left_heel", "left_foot_index"),
    ("left_ankle", "left_foot_index"),
    ("right_ankle", "right_heel"),
    ("right_heel", "right_foot_index"),
    ("right_ankle", "right_foot_index"),
)
"""Pairs of CT17 joints joined by a line. The nose is drawn as a point (and joined to the shoulder midpoint)."""

LEFT_COLOUR = (255, 140, 0)  # orange: the person's left side
RIGHT_COLOUR = (0, 170, 255)  # blue: the person's right side
MID_COLOUR = (240, 240, 240)


def _bone_colour(a: str, b: str) -> tuple[int, int, int]:
    if a.startswith("left") and b.startswith("left"):
        return LEFT_COLOUR
    if a.startswith("right") and b.startswith("right"):
        return RIGHT_COLOUR
    return MID_COLOUR


def draw_skeleton(
    frame: np.ndarray,
    xy: np.ndarray,
    conf: np.ndarray,
    *,
    min_conf: float = 0.3,
    scale: tuple[float, float] = (1.0, 1.0),
    highlight: tuple[str, ...] = (),
) -> np.ndarray:
    """Return a copy of ``frame`` (H, W, 3) uint8 RGB with the skeleton drawn on it.

    ``xy`` (17, 2) are CT17 joint positions in the coordinates of the frame the pose was measured on;
    ``scale`` (sx, sy) maps them onto ``frame`` (e.g. 0.5 when the frame was decoded at half size).
    Joints with ``conf < min_conf`` or NaN coordinates are not drawn. Joints named in ``highlight`` get a ring.
    """
    xy = np.asarray(xy, np.float32).reshape(NUM_JOINTS, 2) * np.asarray(scale, np.float32)
    conf = np.asarray(conf, np.float32).reshape(NUM_JOINTS)
    ok = (conf >= min_conf) & np.isfinite(xy).all(axis=1)
    img = Image.fromarray(np.ascontiguousarray(frame[..., :3]).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    h, w = frame.shape[:2]
    width = max(2, round(min(h, w) / 110))
    radius = width + 1

    def pt(i: int) -> tuple[float, float]:
        return float(xy[i, 0]), float(xy[i, 1])

    for a, b in BONES:
        ia, ib = J[a], J[b]
        if ok[ia] and ok[ib]:
            draw.line([pt(ia), pt(ib)], fill=(0, 0, 0), width=width + 2)
            draw.line([pt(ia), pt(ib)], fill=_bone_colour(a, b), width=width)
    ls, rs, nose = J["left_shoulder"], J["right_shoulder"], J["nose"]
    if ok[ls] and ok[rs] and ok[nose]:
        neck = ((xy[ls] + xy[rs]) / 2).tolist()
        draw.line([tuple(neck), pt(nose)], fill=MID_COLOUR, width=width)
    for i in np.flatnonzero(ok):
        x, y = pt(int(i))
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 255, 255), outline=(0, 0, 0))
    for name in highlight:
        i = J.get(name)
        if i is not None and ok[i]:
            x, y = pt(i)
            r = radius * 3
            draw.ellipse([x - r, y - r, x + r, y + r], outline=(255, 40, 40), width=width)
    return np.asarray(img)


def blank_canvas_for(
    xy_all: np.ndarray, conf_all: np.ndarray, *, size: tuple[int, int] = (480, 360), min_conf: float = 0.3
) -> tuple[np.ndarray, tuple[float, float], tuple[float, float]]:
    """A dark canvas (H, W, 3) and the affine map that fits a whole pose sequence into it.

    Keypoint inputs have no pixels; their units are free (pixels or normalised). Returns
    ``(canvas, scale, offset)`` so that ``xy * scale + offset`` lands inside the canvas with a margin,
    with the same scale on x and y. ``xy_all`` is (T, 17, 2), ``conf_all`` (T, 17).
    """
    w, h = size
    canvas = np.full((h, w, 3), 28, np.uint8)
    pts = np.asarray(xy_all, np.float32).reshape(-1, 2)
    good = (np.asarray(conf_all, np.float32).reshape(-1) >= min_conf) & np.isfinite(pts).all(axis=1)
    if not good.any():
        return canvas, (1.0, 1.0), (0.0, 0.0)
    lo, hi = pts[good].min(axis=0), pts[good].max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    margin = 0.1
    s = float(min(w * (1 - 2 * margin) / span[0], h * (1 - 2 * margin) / span[1]))
    offset = (w - s * span[0]) / 2 - s * lo[0], (h - s * span[1]) / 2 - s * lo[1]
    return canvas, (s, s), (float(offset[0]), float(offset[1]))


def draw_skeleton_on_canvas(
    xy: np.ndarray,
    conf: np.ndarray,
    canvas: np.ndarray,
    scale: tuple[float, float],
    offset: tuple[float, float],
    **kwargs,
) -> np.ndarray:
    """Draw one pose (17, 2) on a canvas from :func:`blank_canvas_for`, applying its ``scale`` and ``offset``."""
    mapped = np.asarray(xy, np.float32) * np.asarray(scale, np.float32) + np.asarray(offset, np.float32)
    return draw_skeleton(canvas, mapped, conf, **kwargs)


def to_data_uri(image: np.ndarray, fmt: str = "JPEG", quality: int = 82) -> str:
    """Encode an RGB uint8 image as a ``data:`` URI (JPEG by default, or PNG) for an ``<img src=...>``."""
    buf = io.BytesIO()
    pil = Image.fromarray(np.ascontiguousarray(image[..., :3]).astype(np.uint8), "RGB")
    if fmt.upper() == "PNG":
        pil.save(buf, format="PNG", optimize=True)
        mime = "image/png"
    else:
        pil.save(buf, format="JPEG", quality=quality)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
