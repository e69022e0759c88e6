"""The self-contained HTML report of one assessment: one file, inline CSS and SVG, images as ``data:`` URIs.

Sections: verdict (level, probabilities, score), feedback, a timeline of every skill-attribute's confidence per
second with its windows shaded, key frames with the skeleton drawn where each attribute shows, input and model
information, warnings. Nothing is fetched from the network, so the file works offline and can be mailed around.

>>> # result = Assessor.load().assess("examples/sample_bicep_curl.mp4")
>>> # write_report(result, "report.html")   # -> Path("report.html")

Every string that comes from the model or the input (names, feedback, paths) is escaped with ``html.escape``.
"""

from __future__ import annotations

import html
import io
import json
import logging
import string
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crosstrainer import __version__
from crosstrainer.fileio import atomic_write_text

if TYPE_CHECKING:
    from crosstrainer.api import AssessmentResult
    from crosstrainer.keypoints.skeleton import PoseSequence
    from crosstrainer.schema import Assessment

log = logging.getLogger(__name__)

PALETTE = ("#2f6fde", "#e0662b", "#1f9d55", "#b0389b", "#c9a100", "#1b9aaa", "#d1495b", "#6c5ce7", "#5b8c2a", "#8d6e63")
MAX_KEY_FRAMES = 8
MAX_TIMELINE_ROWS = 8
CREDIT = (
    "Method: K. Ashutosh and K. Grauman, “Learning Skill-Attributes for Transferable Assessment in Video”, "
    "NeurIPS 2025. Automated feedback from a small model: a second opinion, not a coach's verdict."
)

# Which joints to ring on a key frame, by words in the attribute name (a hint for the eye, nothing more).
_JOINT_WORDS: dict[str, tuple[str, ...]] = {
    "elbow": ("left_elbow", "right_elbow"),
    "arm": ("left_elbow", "right_elbow", "left_wrist", "right_wrist"),
    "wrist": ("left_wrist", "right_wrist"),
    "hand": ("left_wrist", "right_wrist"),
    "grip": ("left_wrist", "right_wrist"),
    "shoulder": ("left_shoulder", "right_shoulder"),
    "posture": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "torso": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "back": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "core": ("left_hip", "right_hip"),
    "hip": ("left_hip", "right_hip"),
    "knee": ("left_knee", "right_knee"),
    "leg": ("left_knee", "right_knee", "left_ankle", "right_ankle"),
    "ankle": ("left_ankle", "right_ankle"),
    "foot": ("left_foot_index", "right_foot_index", "left_heel", "right_heel"),
    "feet": ("left_foot_index", "right_foot_index", "left_heel", "right_heel"),
    "stance": ("left_ankle", "right_ankle"),
    "balance": ("left_ankle", "right_ankle", "left_hip", "right_hip"),
    "head": ("nose",),
}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _template(name: str) -> str:
    return resources.files("crosstrainer.report").joinpath("templates", name).read_text(encoding="utf-8")


def _fmt_s(t: float) -> str:
    return f"{t:.1f} s"


# --------------------------------------------------------------------------------------------- key moments


@dataclass
class KeyMoment:
    """Where to show one attribute: the middle of its strongest window.

    ``window`` = (start_s, end_s); ``strength`` = mean per-second confidence inside the window (or the
    attribute's confidence when there is no timeline).
    """

    attribute: str
    confidence: float
    window: tuple[float, float]
    time_s: float
    strength: float
    reference: bool = False  # not a problem: the middle of the clip, shown when no attribute has a window


def key_moments(assessment: Assessment, limit: int = MAX_KEY_FRAMES) -> list[KeyMoment]:
    """One moment per attribute that has a window, strongest attributes first."""
    tl = assessment.timeline
    times = np.asarray(tl.times_s, np.float64) if tl is not None else np.zeros(0)
    moments: list[KeyMoment] = []
    for attr in assessment.attributes:
        if not attr.windows:
            continue
        values = np.asarray(tl.attributes.get(attr.name, []), np.float64) if tl is not None else np.zeros(0)
        best: tuple[float, tuple[float, float]] | None = None
        for a, b in attr.windows:
            a, b = float(a), float(max(a, b))
            strength = attr.confidence
            if len(values) and len(values) == len(times):
                inside = (times + 0.5 >= a) & (times + 0.5 <= b) if b > a else np.zeros(len(times), bool)
                if not inside.any():
                    inside = np.abs(times + 0.5 - (a + b) / 2) == np.min(np.abs(times + 0.5 - (a + b) / 2))
                strength = float(values[inside].mean())
            if best is None or strength > best[0]:
                best = (strength, (a, b))
        assert best is not None
        strength, (a, b) = best
        moments.append(KeyMoment(attr.name, float(attr.confidence), (a, b), (a + b) / 2, strength))
    moments.sort(key=lambda m: -m.confidence)
    return moments[:limit]


def _nearest_pose_index(pose: PoseSequence, t: float, min_conf: float = 0.3, search_s: float = 0.5) -> int | None:
    """Index of the pose frame nearest to ``t`` that has joints detected (within ``search_s``), else the nearest."""
    if len(pose) == 0:
        return None
    dt = np.abs(pose.times_s - t)
    order = np.argsort(dt, kind="stable")
    for i in order:
        if dt[i] > search_s:
            break
        if (pose.conf[i] >= min_conf).sum() >= 4:
            return int(i)
    return int(order[0])


def _highlight_for(attribute: str) -> tuple[str, ...]:
    words = attribute.lower()
    joints: list[str] = []
    for word, names in _JOINT_WORDS.items():
        if word in words:
            joints.extend(n for n in names if n not in joints)
    return tuple(joints)


# --------------------------------------------------------------------------------------------- frames


def _thumbnails(pose: PoseSequence | None) -> dict[str, Any]:
    """The JPEG thumbnails the pose pass kept (``pose.meta["thumbnails"]``); empty for keypoint inputs."""
    thumbs = pose.meta.get("thumbnails") if pose is not None else None
    return thumbs if thumbs and len(thumbs.get("times_s", ())) == len(thumbs.get("jpeg", ())) > 0 else {}


def _decode_jpeg(data: bytes) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except OSError as exc:  # not an image (PIL's UnidentifiedImageError is one): it only costs its key frame
        log.debug("could not decode a thumbnail: %s", exc)
        return None


@dataclass
class _KeyFrame:
    moment: KeyMoment
    data_uri: str | None
    note: str


def _key_frames(result: AssessmentResult, moments: list[KeyMoment]) -> list[_KeyFrame]:
    """One picture per moment: the pose pass's thumbnail nearest to it with the skeleton drawn on it.

    Without thumbnails (keypoint inputs, or a pose made without them) the skeleton is drawn on a blank canvas;
    the input file is never opened again.
    """
    from crosstrainer.report.drawing import blank_canvas_for, draw_skeleton, draw_skeleton_on_canvas, to_data_uri

    pose = result.pose
    is_video = result.assessment.input.kind == "video"
    thumbs = _thumbnails(pose)
    thumb_times = np.asarray(thumbs.get("times_s", []), np.float64)
    frames: list[_KeyFrame] = []
    canvas_fit = None
    for m in moments:
        highlight = _highlight_for(m.attribute)
        image, t_frame = None, m.time_s
        if len(thumb_times):
            j = int(np.argmin(np.abs(thumb_times - m.time_s)))
            image, t_frame = _decode_jpeg(thumbs["jpeg"][j]), float(thumb_times[j])
        if image is not None:
            idx = _nearest_pose_index(pose, t_frame) if pose is not None else None
            if pose is not None and idx is not None:
                w, h = thumbs.get("frame_size") or (image.shape[1], image.shape[0])
                scale = (image.shape[1] / w, image.shape[0] / h)
                image = draw_skeleton(image, pose.xy[idx], pose.conf[idx], scale=scale, highlight=highlight)
                note = f"frame at {_fmt_s(t_frame)}, pose at {_fmt_s(float(pose.times_s[idx]))}"
            else:
                note = f"frame at {_fmt_s(t_frame)} (no pose)"
            frames.append(_KeyFrame(m, to_data_uri(image), note))
            continue
        idx = _nearest_pose_index(pose, m.time_s) if pose is not None else None
        if pose is not None and idx is not None:
            if canvas_fit is None:
                canvas_fit = blank_canvas_for(pose.xy, pose.conf)
            canvas, scale, offset = canvas_fit
            image = draw_skeleton_on_canvas(pose.xy[idx], pose.conf[idx], canvas, scale, offset, highlight=highlight)
            what = "keypoints" if not is_video else "video frame unavailable; keypoints"
            frames.append(_KeyFrame(m, to_data_uri(image), f"{what} at {_fmt_s(float(pose.times_s[idx]))}"))
        else:
            frames.append(_KeyFrame(m, None, "no frame or pose available"))
    return frames


# --------------------------------------------------------------------------------------------- sections


def _verdict_html(a: Assessment) -> str:
    p = a.proficiency
    rows = []
    top = int(np.argmax(p.probabilities)) if p.probabilities else -1
    for i, level in enumerate(p.levels):
        prob = p.probabilities[i] if i < len(p.probabilities) else 0.0
        cls = ' class="top"' if i == top else ""
        pct = max(0.0, min(100.0, 100.0 * float(prob)))
        rows.append(
            f'<div{cls}>{_e(level)}</div><div{cls}><div class="bar" title="{pct:.1f}%">'
            f'<span style="width:{pct:.1f}%"></span></div></div><div class="num{" top" if i == top else ""}">'
            f"{pct:.0f}%</div>"
        )
    llm = ""
    if p.llm_level:
        agree = "agrees" if p.llm_level.strip().lower() == p.level.strip().lower() else "differs"
        llm = f'<div class="llm">Language model says: <b>{_e(p.llm_level)}</b> ({agree})</div>'
    chips = ""
    if a.attributes:
        items = "".join(
            f'<span class="chip"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{_e(attr.name)} '
            f"{100 * attr.confidence:.0f}%</span>"
            for i, attr in enumerate(a.attributes)
        )
        chips = f'<div class="llm">Skill-attributes to improve:</div><div class="chips">{items}</div>'
    else:
        chips = '<div class="llm">No skill-attribute to improve was found.</div>'
    if p.confidence == "low":
        why = "; ".join(p.confidence_reasons) or "see the warnings"
        chips += f'\n    <div class="llm low-confidence"><b>Low confidence:</b> {_e(why)}</div>'
    lowered = [n for n, v in p.attribute_contributions.items() if v < -0.25][:3]
    if lowered:
        chips += f'\n    <div class="llm">Lowered the score most: {_e(", ".join(lowered))}</div>'
    if a.repetitions:
        from crosstrainer.report.terminal import repetitions_line

        chips += f'\n    <div class="llm">{_e(repetitions_line(a.repetitions))}</div>'
    sport = f" · {_e(a.sport)}" if a.sport else ""
    return (
        f'    <div class="level" data-level="{_e(p.level)}">{_e(p.level)}</div>\n'
        f'    <div class="score">score {p.score:.2f} (0 to 1, higher is more proficient){sport}</div>\n'
        f'    <div class="bars">{"".join(rows)}</div>\n    {llm}\n    {chips}'
    )


def _feedback_html(a: Assessment) -> str:
    if not a.feedback:
        return '    <p class="empty">No feedback for this clip.</p>'
    sources = a.feedback_source or ["model"] * len(a.feedback)
    items = "\n".join(
        f'      <li data-source="{_e(src)}">{_e(text)}'
        + (' <small title="built from a measurement on this clip">(measured)</small>' if src == "grounded" else "")
        + "</li>"
        for text, src in zip(a.feedback, sources)
    )
    return f'    <ol class="feedback">\n{items}\n    </ol>'


def _timeline_svg(a: Assessment) -> str:
    """Small multiples: one row per attribute, x = seconds, y = confidence 0..1 (a step per encoded second)."""
    tl = a.timeline
    names = [attr.name for attr in a.attributes]
    hidden = 0
    if tl is not None:  # the found attributes first, then the strongest others, up to MAX_TIMELINE_ROWS rows
        others = sorted((n for n in tl.attributes if n not in names), key=lambda n: -max(tl.attributes[n], default=0))
        room = max(0, MAX_TIMELINE_ROWS - len(names))
        names += others[:room]
        hidden = len(others) - len(others[:room])
    if tl is None or not tl.times_s or not names:
        return '    <p class="empty">No per-second timeline in this assessment.</p>'
    times = [float(t) for t in tl.times_s]
    duration = float(a.input.duration_s or 0.0)
    if duration <= times[-1]:  # the last encoded second runs to the end of the clip; without a duration, 1 s
        duration = times[-1] + 1.0
    windows = {attr.name: attr.windows for attr in a.attributes}
    label_w, right_w, width, row_h, gap, top = 150, 48, 900, 46, 10, 8
    plot_w = width - label_w - right_w
    rows = [*names, "body visible"] if tl.visibility else names

    def x(t: float) -> float:
        return label_w + plot_w * min(max(t, 0.0), duration) / duration

    parts: list[str] = []
    for r, name in enumerate(rows):
        y0 = top + r * (row_h + gap)
        colour = "#8a93a5" if name == "body visible" else PALETTE[names.index(name) % len(PALETTE)]
        values = tl.visibility if name == "body visible" else tl.attributes.get(name, [])
        parts.append(f'<g class="row" data-attribute="{_e(name)}">')
        parts.append(f'<rect x="{label_w}" y="{y0}" width="{plot_w}" height="{row_h}" fill="#f3f5f8"/>')
        for wa, wb in windows.get(name, []):
            xa, xb = x(float(wa)), x(float(wb))
            parts.append(
                f'<rect class="window" x="{xa:.1f}" y="{y0}" width="{max(xb - xa, 1.5):.1f}" height="{row_h}" '
                f'fill="{colour}" fill-opacity="0.16" stroke="{colour}" stroke-opacity="0.6" stroke-dasharray="3 2">'
                f"<title>{_e(name)}: window {float(wa):.1f}-{float(wb):.1f} s</title></rect>"
            )
        pts: list[str] = []
        for i, v in enumerate(values[: len(times)]):
            t0 = times[i]
            t1 = times[i + 1] if i + 1 < len(times) else min(duration, t0 + 1.0)
            yv = y0 + row_h * (1.0 - min(max(float(v), 0.0), 1.0))
            pts += [f"{x(t0):.1f},{yv:.1f}", f"{x(t1):.1f},{yv:.1f}"]
        if pts:
            base = f"{pts[-1].split(',')[0]},{y0 + row_h} {pts[0].split(',')[0]},{y0 + row_h}"
            parts.append(f'<polygon points="{" ".join(pts)} {base}" fill="{colour}" fill-opacity="0.22"/>')
            parts.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for i, v in enumerate(values[: len(times)]):
                t1 = times[i + 1] if i + 1 < len(times) else min(duration, times[i] + 1.0)
                parts.append(
                    f'<rect x="{x(times[i]):.1f}" y="{y0}" width="{max(x(t1) - x(times[i]), 1):.1f}" '
                    f'height="{row_h}" fill="transparent"><title>{_e(name)} at {times[i]:.0f}-{t1:.0f} s: '
                    f"{float(v):.2f}</title></rect>"
                )
        parts.append(
            f'<text class="name" x="{label_w - 8}" y="{y0 + row_h / 2 + 4}" text-anchor="end">{_e(name)}</text>'
        )
        mean = float(np.mean(values)) if len(values) else 0.0
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y0 + row_h / 2 + 4}">{mean:.2f}</text>')
        parts.append("</g>")
    axis_y = top + len(rows) * (row_h + gap)
    step = next(s for s in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1e9) if duration / s <= 12)
    tick = 0.0
    while tick <= duration + 1e-9:
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{axis_y - gap + 4}" stroke="#c5cbd6" '
            f'stroke-width="0.6"/><text x="{x(tick):.1f}" y="{axis_y + 10}" text-anchor="middle">{tick:g}</text>'
        )
        tick += step
    parts.append(f'<text x="{label_w + plot_w}" y="{axis_y + 26}" text-anchor="end">seconds</text>')
    height = axis_y + 32
    svg = (
        f'    <svg class="timeline" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="confidence of each skill-attribute per second">\n    {"".join(parts)}\n    </svg>'
    )
    hint = (
        '    <p class="hint">Each row is one skill-attribute: the filled curve is the model\'s confidence (0 to 1) for '
        "each second; shaded, dashed boxes are the windows where the attribute shows. The number on the right is "
        "the row's mean."
        + (
            f" {hidden} weaker attributes of the vocabulary are not drawn (they are in the JSON).</p>"
            if hidden
            else "</p>"
        )
    )
    return svg + "\n" + hint


def _keyframes_html(frames: list[_KeyFrame], a: Assessment) -> str:
    if not frames:
        if a.attributes:
            return '    <p class="empty">The attributes have no time windows to show.</p>'
        return '    <p class="empty">No skill-attribute to improve was found, so there is no key frame to show.</p>'
    figs = []
    for f in frames:
        m = f.moment
        img = (
            f'<img src="{f.data_uri}" alt="{_e(m.attribute)} at {m.time_s:.1f} s">'
            if f.data_uri
            else '<p class="empty" style="color:#ccc;padding:20px">no image</p>'
        )
        if m.reference:
            caption = f"<b>For reference</b><br>no skill-attribute window to show; {_e(f.note)}"
        else:
            caption = (
                f"<b>{_e(m.attribute)}</b> · {100 * m.confidence:.0f}%<br>"
                f"window {m.window[0]:.1f}-{m.window[1]:.1f} s, {_e(f.note)}"
            )
        figs.append(f'<figure class="frame">{img}<figcaption>{caption}</figcaption></figure>')
    legend = (
        '<p class="hint">Skeleton: orange = the person\'s left side, blue = right side; red rings mark the joints '
        "the attribute is about.</p>"
    )
    return f'    <div class="frames">{"".join(figs)}</div>\n    {legend}'


def _details_html(result: AssessmentResult) -> str:
    a = result.assessment
    inp = a.input
    rows: list[tuple[str, str]] = [
        ("Input", Path(inp.path).name or inp.path),
        ("Kind", inp.kind),
        ("Duration", f"{inp.duration_s:.2f} s"),
        ("Frame rate", f"{inp.fps:.2f} fps"),
        ("Sport", a.sport or "not given"),
        ("Model", f"{a.model.name} {a.model.version}"),
        ("Schema", a.schema_),
    ]
    if result.pose is not None:
        detected = float((result.pose.conf >= 0.3).mean()) if len(result.pose) else 0.0
        rows.append(("Pose", f"{len(result.pose)} frames, {100 * detected:.0f}% of joints detected"))
    if result.features is not None:
        rows.append(("Encoder", f"{result.features.encoder} ({result.features.num_seconds} s of features)"))
    if result.timings:  # {"pose_s": 1.2, ..., "total_s": 4.6}: seconds per step
        timings = {k.removesuffix("_s"): float(v) for k, v in result.timings.items()}
        total = timings.pop("total", None)
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
        rows.append(("Timings", parts + (f" (total {total:.2f} s)" if total is not None else "")))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'    <table class="info">{body}</table>'


def _warnings_html(a: Assessment) -> str:
    if not a.warnings:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in a.warnings)
    return f'<section class="warnings" id="warnings"><b>Warnings</b><ul>{items}</ul></section>'


def _json_for_script(a: Assessment) -> str:
    """The assessment JSON, safe inside ``<script type="application/json">`` (no ``</script>`` break-out)."""
    text = a.to_json(indent=None)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --------------------------------------------------------------------------------------------- public API


def render_report(result: AssessmentResult, *, key_frames: bool = True) -> str:
    """The whole report as one HTML string (self-contained; key frames from the pose pass's thumbnails)."""
    a = result.assessment
    moments = key_moments(a) if key_frames else []
    if key_frames and not moments and (result.pose is not None or a.input.kind == "video"):
        mid = a.input.duration_s / 2
        moments = [KeyMoment("middle of the clip", 0.0, (0.0, a.input.duration_s), mid, 0.0, reference=True)]
    frames = _key_frames(result, moments) if moments else []
    name = Path(a.input.path).name or a.input.path
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = f"{_e(name)} · {a.input.duration_s:.1f} s {_e(a.input.kind)} · {_e(when)}"
    footer = (
        f"Generated by CrossTrainer {_e(__version__)} with model {_e(a.model.name)} {_e(a.model.version)}. {_e(CREDIT)}"
    )
    page = string.Template(_template("report.html")).substitute(
        version=_e(__version__),
        title=_e(f"CrossTrainer: {a.proficiency.level} · {name}"),
        css=_template("report.css"),
        subtitle=subtitle,
        warnings=_warnings_html(a),
        verdict=_verdict_html(a),
        feedback=_feedback_html(a),
        timeline=_timeline_svg(a),
        keyframes=_keyframes_html(frames, a),
        details=_details_html(result),
        footer=footer,
        data=_json_for_script(a),
    )
    return page


def write_report(result: AssessmentResult, path: str | Path) -> Path:
    """Render the report and write it to ``path`` atomically (parent folders are created). Returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out, render_report(result))


def load_assessment_json(text: str) -> dict[str, Any]:
    """Read the assessment JSON embedded in a report (``<script id="assessment-data">``) back into a dict."""
    start = text.index('id="assessment-data">') + len('id="assessment-data">')
    return json.loads(text[start : text.index("</script>", start)])
