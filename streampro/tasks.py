"""The task registry: StreamPro-Bench's seven tasks and any registered peer task.

Each task fixes how its answers are timed (an ``interval`` or a single ``time``), its tolerance
window around that timing and its decay constant τ (paper, Table "StreamPro-Bench"). Peer
benchmarks register their own tasks with :func:`register_task`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DIMENSIONS = {"PU": "Perception Understanding", "TR": "Temporal Reasoning", "PA": "Proactive Agency"}


@dataclass(frozen=True)
class TaskSpec:
    """How one task's answers are timed and scored.

    The tolerance window of an answer is ``[anchor_start - before, anchor_end + after]`` where the
    anchors are the interval's edges, or both the answer's ``time``. ``tau_early`` applies to
    responses before the anchor, ``tau_late`` to responses after it.
    """

    name: str
    title: str
    dimension: str | None
    timing: Literal["interval", "time"]
    before: float
    after: float
    tau_early: float
    tau_late: float
    needs_span: bool = False
    proactive: bool = False  # Proactive Agency: nothing after the anchor counts in RL matching
    scoring: Literal["f1", "choice"] = "f1"  # StreamPro-F1, or multiple-choice accuracy (peer tasks)

    def window(self, start: float, end: float) -> tuple[float, float]:
        return (start - self.before, end + self.after)


SPB_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in [
        TaskSpec("EU", "Event Understanding", "PU", "interval", 0, 3, 4, 4),
        TaskSpec("OU", "Object Understanding", "PU", "time", 3, 3, 4, 4),
        TaskSpec("AA", "Anomaly Alert", "PU", "time", 0, 5, 6, 6),
        TaskSpec("TP", "Temporal Perception", "TR", "interval", 0, 3, 4, 4),
        TaskSpec("TG", "Temporal Grounding", "TR", "time", 3, 3, 4, 4, needs_span=True),
        TaskSpec("GP", "Goal Planning", "PA", "time", 3, 0, 4, 4, proactive=True),
        TaskSpec("RF", "Risk Forecasting", "PA", "time", 1, 3, 2, 4, proactive=True),
    ]
}

# Peer benchmarks' tasks (docs/peers.md). OVO-Bench Forward Active Responding is re-scored with
# StreamPro-F1; StreamingBench's real-time questions are multiple choice, scored as accuracy.
PEER_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in [
        TaskSpec("OVO_REC", "OVO-Bench repetition event count", None, "time", 3, 3, 4, 4),
        TaskSpec("OVO_SSR", "OVO-Bench sequential steps recognition", None, "time", 3, 3, 4, 4),
        TaskSpec("OVO_CRR", "OVO-Bench clues reveal responding", None, "time", 0, 5, 6, 6),
        *[
            TaskSpec(f"SB_{code}", f"StreamingBench {title}", None, "time", 0, 0, 1, 1, scoring="choice")
            for code, title in [
                ("OR", "Object Recognition"), ("ACR", "Action Recognition"), ("TRU", "Text-Rich Understanding"),
                ("CS", "Clips Summarize"), ("ATR", "Attribute Recognition"), ("SU", "Spatial Understanding"),
                ("CT", "Counting"), ("EVU", "Event Understanding"), ("CR", "Causal Reasoning"),
                ("PR", "Prospective Reasoning"),
            ]
        ],
    ]
}

_REGISTRY: dict[str, TaskSpec] = {**SPB_TASKS, **PEER_TASKS}


def register_task(spec: TaskSpec) -> TaskSpec:
    """Register a peer benchmark's task (idempotent for an identical spec)."""
    existing = _REGISTRY.get(spec.name)
    if existing is not None and existing != spec:
        raise ValueError(f"task {spec.name!r} is already registered with other settings")
    _REGISTRY[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown task {name!r} (known: {known})") from None


def known_tasks() -> list[str]:
    return sorted(_REGISTRY)
