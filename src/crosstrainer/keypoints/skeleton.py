"""The common skeleton every pose source is mapped to, and the pose sequence container.

CrossTrainer's body-17 skeleton (``CT17``) keeps the joints that matter for sport kinematics and that the
common estimators share: MediaPipe-33 has all of them, COCO-17 and OpenPose BODY_18 lack heels and toes
(those joints are then "not detected"), OpenPose BODY_25 has heels and big toes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

JOINTS: tuple[str, ...] = (
    "nose",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
J = {name: i for i, name in enumerate(JOINTS)}
NUM_JOINTS = len(JOINTS)


@dataclass
class PoseSequence:
    """One person's 2-D keypoints over time, on the CT17 skeleton.

    ``xy``: (T, 17, 2) float32, image coordinates with y pointing down. Units are free (pixels or
    normalised) as long as x and y share a scale: features normalise by torso length.
    ``conf``: (T, 17) float32 in [0, 1]; 0 means "not detected" (the matching ``xy`` may be NaN).
    ``times_s``: (T,) float64 timestamps in seconds, increasing.

    >>> seq = PoseSequence.empty(fps=10.0, n=3)
    >>> seq.xy.shape, seq.conf.shape, float(seq.duration_s)
    ((3, 17, 2), (3, 17), 0.3)
    """

    xy: np.ndarray
    conf: np.ndarray
    times_s: np.ndarray
    fps: float
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xy = np.asarray(self.xy, dtype=np.float32)
        self.conf = np.asarray(self.conf, dtype=np.float32)
        self.times_s = np.asarray(self.times_s, dtype=np.float64)
        t = self.xy.shape[0]
        if self.xy.shape != (t, NUM_JOINTS, 2) or self.conf.shape != (t, NUM_JOINTS) or self.times_s.shape != (t,):
            raise ValueError(
                f"PoseSequence expects xy (T,{NUM_JOINTS},2), conf (T,{NUM_JOINTS}), times (T,); "
                f"got {self.xy.shape}, {self.conf.shape}, {self.times_s.shape}"
            )

    @classmethod
    def empty(cls, fps: float, n: int) -> PoseSequence:
        return cls(
            xy=np.full((n, NUM_JOINTS, 2), np.nan, np.float32),
            conf=np.zeros((n, NUM_JOINTS), np.float32),
            times_s=np.arange(n) / fps,
            fps=fps,
        )

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    @property
    def duration_s(self) -> float:
        """Duration covered by the frames: last timestamp + one frame period."""
        if len(self) == 0:
            return 0.0
        return float(self.times_s[-1] - self.times_s[0] + 1.0 / self.fps)
