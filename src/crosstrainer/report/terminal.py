"""The terminal report of one assessment (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _bar(p: float, width: int = 24) -> str:
    n = round(p * width)
    return "█" * n + "░" * (width - n)


def render_assessment(result: Any, console: Console) -> None:
    a = result.assessment
    prof = a.proficiency
    head = Text()
    head.append(f"{prof.level}", style="bold green" if prof.score >= 0.5 else "bold yellow")
    head.append(f"   score {prof.score:.2f} (0 = least, 1 = most proficient)")
    if prof.llm_level and prof.llm_level != prof.level:
        head.append(f"\nthe language model says: {prof.llm_level}", style="dim")
    levels = Table.grid(padding=(0, 1))
    for name, p in zip(prof.levels, prof.probabilities):
        levels.add_row(name, _bar(p), f"{p:.0%}")
    attrs = Table("skill-attribute to improve", "confidence", "when (s)", box=None, header_style="bold")
    for at in a.attributes:
        when = ", ".join(f"{s:.1f}-{e:.1f}" for s, e in at.windows)
        attrs.add_row(at.name, f"{at.confidence:.2f}", when)
    parts: list[Any] = [head, levels, Text("")]
    parts.append(attrs if a.attributes else Text("No skill-attribute to improve was found.", style="green"))
    parts.append(Text(""))
    parts.append(Text("Feedback", style="bold"))
    parts += [Text(f"  • {f}") for f in a.feedback] or [Text("  (none)")]
    for w in a.warnings:
        parts.append(Text(f"⚠ {w}", style="yellow"))
    info = a.input
    sport = f", {a.sport}" if a.sport else ""
    title = f"{info.path} ({info.kind}, {info.duration_s:.1f} s{sport})"
    timing = result.timings.get("total_s")
    sub = f"{a.model.name} {a.model.version}" + (f" · {timing:.1f} s" if timing else "")
    console.print(Panel(Group(*parts), title=title, subtitle=sub, expand=False))
