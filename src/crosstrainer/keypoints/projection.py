"""Virtual cameras: 3-D keypoints seen as the 2-D ``PoseSequence`` a video pose estimator would give.

3-D input (``xyz``): (T, 17, 3) float, CT17 joints (``skeleton.JOINTS``) in metres, right-handed world frame with
**y up**; the person faces roughly **+z**, so +x is their left. NaN rows are joints not detected. Example, one frame::

    xyz[0, J["left_hip"]]  -> [0.031, 0.856, -2.319]   # UI-PRMD m01_s01_e01: 86 cm above the floor
    xyz[0, J["left_heel"]] -> [nan, nan, nan]           # not available in the source

A ``Camera`` sits on a sphere around the *target* (by default the median hip centre of the clip, so the body is
centred) and looks at it: ``yaw_deg`` turns it about the vertical axis (0 = in front of the person, on +z; +90 = on
+x, their left side; -90 = their right side), ``pitch_deg`` raises it (positive = above, looking down). The
projection is a pinhole with ``focal`` in pixels and the principal point at the centre of ``image_size``; output
coordinates are pixels with **y pointing down**, as ``PoseSequence`` expects::

    pose = project(xyz, VIRTUAL_CAMERAS["oblique_left_high"], fps=30.0)
    pose.xy[0, J["left_hip"]]  -> [614.1, 317.4]       # standing; the clip's median hip centre is at (640, 360)
    pose.meta["camera"]        -> {"yaw_deg": 45.0, "pitch_deg": 12.0, "distance_m": 3.5, "focal": 1000.0, ...}

>>> xyz = np.zeros((2, 17, 3)); xyz[:, :, 1] = np.linspace(0.1, 1.7, 17); xyz[:, :, 2] = -2.0
>>> pose = project(xyz, Camera(yaw_deg=0.0), fps=10.0)
>>> pose.xy.shape, bool(pose.xy[0, 0, 1] > pose.xy[0, 16, 1])   # joint 0 (the lowest) is lower in the image
((2, 17, 2), True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from crosstrainer.errors import UsageError
from crosstrainer.keypoints.skeleton import NUM_JOINTS, J, PoseSequence

MIN_DEPTH_M = 0.05
"""Joints closer to (or behind) the camera than this are "not detected"."""


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking at the person from ``distance_m``; angles in degrees, ``focal`` in pixels."""

    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    distance_m: float = 3.5
    focal: float = 1000.0
    image_size: tuple[int, int] = (1280, 720)

    def basis(self) -> tuple[np.ndarray, np.ndarray]:
        """``(direction, R)``: unit vector from the target to the camera, and rows right/up/forward of the camera."""
        yaw, pitch = np.radians(self.yaw_deg), np.radians(self.pitch_deg)
        direction = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
        forward = -direction
        right = np.cross(forward, [0.0, 1.0, 0.0])
        norm = np.linalg.norm(right)
        right = right / norm if norm > 1e-9 else np.array([1.0, 0.0, 0.0])  # looking straight down or up
        up = np.cross(right, forward)
        return direction, np.stack([right, up, forward])


def _cameras() -> dict[str, Camera]:
    out: dict[str, Camera] = {}
    for name, yaw in (("front", 0.0), ("side_left", 90.0), ("side_right", -90.0)):
        out[name] = Camera(yaw_deg=yaw)
        out[f"{name}_high"] = Camera(yaw_deg=yaw, pitch_deg=12.0)
    for name, yaw in (("oblique_left", 45.0), ("oblique_right", -45.0)):
        out[name] = Camera(yaw_deg=yaw)
        out[f"{name}_high"] = Camera(yaw_deg=yaw, pitch_deg=12.0)
    return out


VIRTUAL_CAMERAS: dict[str, Camera] = _cameras()
"""Named presets: front, side_left, side_right, oblique_left (45 deg), oblique_right (-45 deg), each also
``*_high`` (camera 12 deg above the hips, looking down). All at 3.5 m, focal 1000 px, 1280x720."""


def get_camera(camera: str | Camera) -> Camera:
    """A preset by name (see ``VIRTUAL_CAMERAS``) or the ``Camera`` itself."""
    if isinstance(camera, Camera):
        return camera
    key = str(camera).strip().lower().replace("-", "_")
    if key not in VIRTUAL_CAMERAS:
        raise UsageError(f"unknown virtual camera {camera!r} (known: {', '.join(VIRTUAL_CAMERAS)})")
    return VIRTUAL_CAMERAS[key]


def random_camera(
    rng: np.random.Generator,
    yaw_range_deg: tuple[float, float] = (-90.0, 90.0),
    pitch_range_deg: tuple[float, float] = (0.0, 15.0),
    distance_range_m: tuple[float, float] = (2.5, 4.5),
    focal: float = 1000.0,
) -> Camera:
    """A camera for training augmentation: yaw, pitch and distance uniform over their ranges."""
    return Camera(
        yaw_deg=float(rng.uniform(*yaw_range_deg)),
        pitch_deg=float(rng.uniform(*pitch_range_deg)),
        distance_m=float(rng.uniform(*distance_range_m)),
        focal=focal,
    )


def body_centre(xyz: np.ndarray) -> np.ndarray:
    """Median over frames of the hip centre (3,); without hips, the median of all joints; zeros if nothing."""
    for points in (xyz[:, [J["left_hip"], J["right_hip"]]], xyz):
        flat = points.reshape(-1, 3)
        ok = np.isfinite(flat).all(-1)
        if ok.any():
            if points.shape[1] == 2:  # hip centre per frame, from the frames that have both hips
                both = np.isfinite(points).all((1, 2))
                if both.any():
                    return np.median(points[both].mean(1), axis=0)
            return np.median(flat[ok], axis=0)
    return np.zeros(3)


def project(
    xyz: np.ndarray,
    camera: str | Camera = "front",
    conf: np.ndarray | None = None,
    times_s: np.ndarray | None = None,
    fps: float = 30.0,
    target: np.ndarray | None = None,
    source: str = "",
    meta: dict | None = None,
) -> PoseSequence:
    """Perspective projection of (T, 17, 3) metres (y up) into a ``PoseSequence`` in pixels (y down).

    ``conf`` (T, 17) defaults to 1 for finite joints; joints that are NaN or behind the camera get conf 0 and NaN.
    ``times_s`` defaults to ``arange(T) / fps``; ``target`` (3,) to ``body_centre(xyz)``. ``pose.meta["camera"]``
    records the camera and the target.
    """
    cam = get_camera(camera)
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim != 3 or xyz.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"project expects xyz (T,{NUM_JOINTS},3), got {xyz.shape}")
    n = len(xyz)
    target = body_centre(xyz) if target is None else np.asarray(target, dtype=np.float64)
    direction, rot = cam.basis()
    position = target + cam.distance_m * direction
    local = (xyz - position) @ rot.T  # (T, 17, 3): right, up, depth
    depth = local[..., 2]
    ok = np.isfinite(local).all(-1) & (depth > MIN_DEPTH_M)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = cam.image_size[0] / 2 + cam.focal * local[..., 0] / depth
        v = cam.image_size[1] / 2 - cam.focal * local[..., 1] / depth
    xy = np.where(ok[..., None], np.stack([u, v], axis=-1), np.nan)
    c = np.ones((n, NUM_JOINTS), np.float32) if conf is None else np.asarray(conf, np.float32).copy()
    c[~ok] = 0.0
    t = np.arange(n) / fps if times_s is None else np.asarray(times_s, dtype=np.float64)
    info = {"camera": asdict(cam), "target_m": [float(x) for x in target]}
    return PoseSequence(xy=xy, conf=c, times_s=t, fps=fps, source=source, meta={**(meta or {}), **info})
