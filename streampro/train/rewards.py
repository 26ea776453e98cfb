"""GRPO rewards over a whole predicted stream, as TRL reward functions.

Each reward is a callable ``(prompts, completions, **kwargs) -> list[float]``; it reads the rollout's
per-turn outputs from ``turn_outputs`` and the stream's ``item_id`` from the keyword arguments, and
is named for TRL's per-reward logs (``rewards/<name>/mean``). Their weighted sum
R = w_fmt·R_fmt + w_turn·R_turn + w_traj·R_traj is TRL's ``reward_weights``.

- ``fmt``: per turn 1 if the output is exactly ``</Silence>`` or ``</Response>`` + non-empty text;
  the mean over the stream's turns (0 for a stream with no turns).
- ``turn``: the paper's Algorithm 1 — one universal τ; ground-truth-first matching: for each answer
  in order, among the predictions not yet matched that lie in its window ([start − τ, end + τ] for
  intervals, [t − τ, t + τ] for timestamps, [t − τ, t] for the Proactive Agency tasks GP and RF),
  take the highest S′ = S_time + S_acc (StreamPro-Bench's own functions, with this τ) if it is above 0,
  mark it matched and add S′ (a prediction scoring S′ = 0 is never consumed);
  R_turn = 2·ΣS′ / (|P| + |G|) (in [0, 2]; 0 when there is nothing).
- ``traj``: the mean of the item's binary rubric checkpoints graded by the judge against the whole
  predicted stream (0 for an item without rubric: the ``rubrics`` step writes them for real data).
"""
from __future__ import annotations

from streampro import protocol
from streampro.bench.metric import s_acc, s_time
from streampro.policy import responses_of
from streampro.schema import Item, Response
from streampro.tasks import get_task


def format_reward(turn_outputs: list[str]) -> float:
    if not turn_outputs:
        return 0.0
    return sum(1.0 for o in turn_outputs if protocol.well_formed(o)) / len(turn_outputs)


def turn_window(item: Item, answer, tau: float) -> tuple[float, float]:
    if get_task(item.task).proactive:
        return answer.end - tau, answer.end
    return answer.start - tau, answer.end + tau


def turn_reward(item: Item, predictions: list[Response], judge, tau: float) -> float:
    """Algorithm 1: ground-truth-first matching with S′ = S_time + S_acc."""
    total_slots = len(predictions) + len(item.answers)
    if total_slots == 0:
        return 0.0
    spec = get_task(item.task)
    matched: set[int] = set()
    total = 0.0
    for answer in item.answers:
        lo, hi = turn_window(item, answer, tau)
        best, best_score = None, 0.0  # Algorithm 1: S'_best starts at 0; a match must score higher
        for k, p in enumerate(predictions):
            if k in matched or not lo <= p.time <= hi:
                continue
            score = s_time(p.time, answer, spec, tau=tau) + s_acc(item, answer, p.text, judge)
            if score > best_score:
                best, best_score = k, score
        if best is not None:
            matched.add(best)
            total += best_score
    return 2.0 * total / total_slots


def trajectory_reward(item: Item, predictions: list[Response], judge) -> float:
    if not item.rubric:
        return 0.0
    texts = [p.text for p in predictions]
    return sum(1.0 for r in item.rubric if judge.check(item, r, texts)) / len(item.rubric)


class _Reward:
    """Common plumbing: look up each stream's item and outputs in TRL's keyword arguments."""

    name = "reward"

    def __init__(self, items: dict[str, Item], fps: float = 1.0):
        self.items, self.fps = items, fps
        self.__name__ = self.name

    def __call__(self, prompts, completions, turn_outputs, item_id, **kwargs) -> list[float]:
        return [self.one(self.items[i], outputs) for i, outputs in zip(item_id, turn_outputs)]

    def one(self, item: Item, outputs: list[str]) -> float:
        raise NotImplementedError


class FormatReward(_Reward):
    name = "fmt"

    def one(self, item, outputs):
        return format_reward(outputs)


class TurnReward(_Reward):
    name = "turn"

    def __init__(self, items, judge, tau: float = 8.0, fps: float = 1.0):
        super().__init__(items, fps)
        self.judge, self.tau = judge, tau

    def one(self, item, outputs):
        return turn_reward(item, responses_of(outputs, self.fps), self.judge, self.tau)


class TrajectoryReward(_Reward):
    name = "traj"

    def __init__(self, items, judge, fps: float = 1.0):
        super().__init__(items, fps)
        self.judge = judge

    def one(self, item, outputs):
        return trajectory_reward(item, responses_of(outputs, self.fps), self.judge)
