"""Pure slicing logic: an item and its video's sampled frames become a streaming trajectory.

Labels follow the time rule (``streampro/timing.py``): the question is injected in the turn that
contains ``query_time``; an answer timed at ``t`` is the target of the turn that contains ``t``; an
interval answer is the target of the turn that contains the interval's end. Every other turn's
target is ``</Silence>``. Two answers due in the same turn are joined with ``"; "`` in one response.
"""
from __future__ import annotations

from streampro import protocol
from streampro.schema import Item, Trajectory, Turn
from streampro.timing import turn_end, turn_of, turn_start


class SliceError(ValueError):
    """An item that cannot be sliced against its video, naming the field."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"field '{field}': {reason}")


def due_turn(answer, fps: float) -> int:
    """The turn in which an answer is due (interval answers: the turn containing the end)."""
    return turn_of(answer.end, fps)


def turn_targets(item: Item, n_turns: int, fps: float) -> list[str]:
    """The assistant target of every turn of an ``n_turns``-turn stream."""
    if turn_of(item.query_time, fps) >= n_turns:
        raise SliceError("query_time", f"{item.query_time}s is past the video's last turn ({n_turns} turns)")
    due: dict[int, list[str]] = {}
    for k, answer in enumerate(item.answers):
        turn = due_turn(answer, fps)
        if turn >= n_turns:
            raise SliceError(f"answers.{k}", f"due at {answer.end}s, past the video's last turn ({n_turns} turns)")
        due.setdefault(turn, []).append(answer.text.strip())
    return [protocol.response("; ".join(due[i])) if i in due else protocol.SILENCE for i in range(n_turns)]


def build_trajectory(item: Item, frames: list[bytes], fps: float) -> Trajectory:
    """One trajectory record: a turn per frame, the question at its turn, the targets per turn."""
    targets = turn_targets(item, len(frames), fps)
    query_turn = turn_of(item.query_time, fps)
    turns = [
        Turn(index=i, start=turn_start(i, fps), end=turn_end(i, fps), frame=frame,
             user_text=item.question if i == query_turn else "", target=targets[i])
        for i, frame in enumerate(frames)
    ]
    return Trajectory(
        trajectory_id=f"{item.item_id}@{fps:g}fps", item_id=item.item_id, video_id=item.video_id,
        split=item.split, task=item.task, fps=fps, turns=turns, answers=item.answers, rubric=item.rubric,
    )
