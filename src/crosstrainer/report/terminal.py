"""The terminal report of one assessment (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from crosstrainer.movement.repetitions import describe_reps


def _bar(p: float, width: int = 24) -> str:
    n = round(p * width)
    return "█" * n + "░" * (width - n)


def repetitions_line(reps: dict[str, Any]) -> str:
    """``"3 repetitions (right elbow angle): 1.6 s each on average, range 95-120 degrees"``."""
    if not reps.get("count"):
        return f"Repetitions: none found ({reps.get('reason') or 'no clear repeated movement'})."
    items = reps.get("repetitions", [])
    primary = ", ".join(p.replace("_", " ") for p in reps.get("primary", [])[:2])
    tempo = [r["tempo_s"] for r in items if r.get("tempo_s") is not None]
    ranges = [r["range_deg"] for r in items if r.get("range_deg") is not None]
    text = f"{reps['count']} repetition{'s' if reps['count'] != 1 else ''}" + (f" ({primary})" if primary else "")
    if tempo:
        text += f": {sum(tempo) / len(tempo):.1f} s each on average"
    if ranges:
        span = (
            f"{min(ranges):.0f}" if round(min(ranges)) == round(max(ranges)) else f"{min(ranges):.0f}-{max(ranges):.0f}"
        )
        text += f", range {span} degrees"
    return text + "."


def render_assessment(result: Any, console: Console) -> None:
    a = result.assessment
    prof = a.proficiency
    head = Text()
    head.append(f"{prof.level}", style="bold green" if prof.score >= 0.5 else "bold yellow")
    head.append(f"   score {prof.score:.2f} (0 = least, 1 = most proficient)")
    if prof.llm_level and prof.llm_level != prof.level:
        head.append(f"\nthe language model says: {prof.llm_level}", style="dim")
    if prof.confidence == "low":
        head.append(f"\nlow confidence: {'; '.join(prof.confidence_reasons)}", style="bold yellow")
    lowered = [n for n, v in (getattr(prof, "attribute_contributions", None) or {}).items() if v < -0.25][:3]
    if lowered:
        head.append(f"\nlowered the score most: {', '.join(lowered)}", style="dim")
    levels = Table.grid(padding=(0, 1))
    for name, p in zip(prof.levels, prof.probabilities):
        levels.add_row(name, _bar(p), f"{p:.0%}")
    attrs = Table("skill-attribute to improve", "confidence", "when", box=None, header_style="bold")
    for at in a.attributes:
        when = ", ".join(f"{s:.1f}-{e:.1f} s" for s, e in at.windows)
        reps = getattr(at, "repetitions", None)
        if reps:
            when = f"{describe_reps(reps)} ({when})"
        attrs.add_row(at.name, f"{at.confidence:.2f}", when)
    parts: list[Any] = [head, levels, Text("")]
    if a.repetitions:
        parts += [Text(repetitions_line(a.repetitions), style="dim"), Text("")]
    parts.append(attrs if a.attributes else Text("No skill-attribute to improve was found.", style="green"))
    parts.append(Text(""))
    parts.append(Text("Feedback", style="bold"))
    sources = a.feedback_source or ["model"] * len(a.feedback)
    parts += [
        Text(f"  • {f}") + Text("  (measured)" if src == "grounded" else "", style="dim")
        for f, src in zip(a.feedback, sources)
    ] or [Text("  (none)")]
    for w in a.warnings:
        parts.append(Text(f"⚠ {w}", style="yellow"))
    info = a.input
    sport = f", {a.sport}" if a.sport else ""
    title = f"{info.path} ({info.kind}, {info.duration_s:.1f} s{sport})"
    timing = result.timings.get("total_s")
    sub = f"{a.model.name} {a.model.version}" + (f" · {timing:.1f} s" if timing else "")
    console.print(Panel(Group(*parts), title=title, subtitle=sub, expand=False))
