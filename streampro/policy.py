"""The streaming policy interface: reset per stream, one decision per turn.

The benchmark harness, the baselines, the streaming model and the offline-model protocol all meet
here. A policy sees each turn as it comes (the frame, the question at its turn) and returns the
turn's output: ``</Silence>``, or ``</Response>`` followed by its answer.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from streampro import protocol
from streampro.schema import Response
from streampro.timing import response_time


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


def response_at(index: int, output: str, fps: float = 1.0) -> Response | None:
    """The response a turn's output gives, stamped by the time rule, or ``None`` when it stays silent."""
    text = protocol.parse(output)
    return None if text is None else Response(time=response_time(index, fps), text=text)


def responses_of(turn_outputs: Sequence[str], fps: float = 1.0) -> list[Response]:
    """The responses of a stream's per-turn outputs (turn ``i`` is ``turn_outputs[i]``), in time order."""
    return [r for r in (response_at(i, o, fps) for i, o in enumerate(turn_outputs)) if r is not None]


def play(policy: Policy, stream: Stream, turns: Iterable[TurnInput]) -> Iterator[tuple[TurnInput, str, Response | None]]:
    """Replay ``turns`` to ``policy`` from a fresh start: per turn, the input, the output and its response."""
    policy.reset(stream)
    for turn in turns:
        output = policy.act(turn)
        yield turn, output, response_at(turn.index, output, stream.fps)
