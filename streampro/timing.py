"""The time rule, written once and used everywhere.

At ``sample_fps`` frames per second (1 by default) turn ``i`` covers ``[i/fps, (i+1)/fps)``, is
labelled ``<{start}s-{end}s>`` (``<is-(i+1)s>`` at 1 fps), shows the frame at time ``i/fps``, and a
response given in turn ``i`` is stamped ``time = i/fps``. The question is injected in the turn whose
interval contains ``query_time``. An answer timed at ``t`` is due in the turn that contains ``t``;
an interval answer is due in the turn that contains the interval's end.
"""
from __future__ import annotations

import math


def _fmt(seconds: float) -> str:
    return f"{seconds:g}"


def turn_start(index: int, fps: float = 1.0) -> float:
    return index / fps


def turn_end(index: int, fps: float = 1.0) -> float:
    return (index + 1) / fps


def turn_label(index: int, fps: float = 1.0) -> str:
    """``<0s-1s>`` for turn 0 at 1 fps."""
    return f"<{_fmt(turn_start(index, fps))}s-{_fmt(turn_end(index, fps))}s>"


def turn_of(time: float, fps: float = 1.0) -> int:
    """The turn whose interval ``[i/fps, (i+1)/fps)`` contains ``time``."""
    if time < 0:
        raise ValueError(f"time {time} is negative")
    # The small epsilon keeps 2.9999999 (float noise) in turn 3 at 1 fps.
    return int(math.floor(time * fps + 1e-9))


def response_time(index: int, fps: float = 1.0) -> float:
    """The time stamped on a response given in turn ``index``."""
    return turn_start(index, fps)


def num_turns(duration: float, fps: float = 1.0) -> int:
    """How many turns a video of ``duration`` seconds has (one per sampled frame)."""
    return max(0, int(math.ceil(duration * fps - 1e-9)))
