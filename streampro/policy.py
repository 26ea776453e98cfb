"""The streaming policy interface: reset per stream, one decision per turn.

The benchmark harness, the baselines, the streaming model and the offline-model protocol all meet
here. A policy sees each turn as it comes (the frame, the question at its turn) and returns the
turn's output: ``</Silence>``, or ``</Response>`` followed by its answer.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class Stream:
    item_id: str
    video_id: str
    task: str
    fps: float
    n_turns: int


@dataclass(frozen=True)
class TurnInput:
    index: int
    start: float
    end: float
    frame: bytes  # JPEG
    user_text: str = ""  # the question, in the turn it is asked


class Policy(ABC):
    name: str = "policy"

    @abstractmethod
    def reset(self, stream: Stream) -> None:
        """Start a new stream (forget everything about the previous one)."""

    @abstractmethod
    def act(self, turn: TurnInput) -> str:
        """The output of one turn: ``</Silence>`` or ``</Response> <answer>``."""
