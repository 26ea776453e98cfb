"""Baseline policies: ``silent``, ``every-turn``, ``random`` and ``oracle``."""
from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict

from streampro import protocol
from streampro.data.trajectory import due_turn
from streampro.policy import Policy, Stream, TurnInput
from streampro.schema import Item


class SilentPolicy(Policy):
    """Never speaks (scores 0: no predictions)."""

    name = "silent"

    def reset(self, stream: Stream) -> None:
        pass

    def act(self, turn: TurnInput) -> str:
        return protocol.SILENCE


def most_frequent_answers(train_items: list[Item]) -> dict[str, list[str]]:
    """Per task, the training answers' texts, most frequent first."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for item in train_items:
        counts[item.task].update(a.text for a in item.answers)
    return {task: [text for text, _ in c.most_common()] for task, c in counts.items()}


class _AfterQuery(Policy):
    def __init__(self, train_items: list[Item]):
        self.answers = most_frequent_answers(train_items)
        self.asked, self.task = False, ""

    def reset(self, stream: Stream) -> None:
        self.asked, self.task = False, stream.task

    def _candidates(self) -> list[str]:
        return self.answers.get(self.task) or ["I see it."]


class EveryTurnPolicy(_AfterQuery):
    """At every turn from the question on, the task's most frequent training answer."""

    name = "every-turn"

    def act(self, turn: TurnInput) -> str:
        self.asked = self.asked or bool(turn.user_text)
        return protocol.response(self._candidates()[0]) if self.asked else protocol.SILENCE


class RandomPolicy(_AfterQuery):
    """From the question on, speaks with probability ``p`` per turn a random training answer of the task
    (seeded by the item, so runs repeat)."""

    name = "random"

    def __init__(self, train_items: list[Item], p: float = 0.15, seed: int = 0):
        super().__init__(train_items)
        self.p, self.seed = p, seed

    def reset(self, stream: Stream) -> None:
        super().reset(stream)
        digest = hashlib.sha256(f"{self.seed}:{stream.item_id}".encode()).digest()
        self.rng = random.Random(int.from_bytes(digest[:8], "big"))

    def act(self, turn: TurnInput) -> str:
        self.asked = self.asked or bool(turn.user_text)
        if self.asked and self.rng.random() < self.p:
            return protocol.response(self.rng.choice(self._candidates()))
        return protocol.SILENCE


class PriorPolicy(Policy):
    """What the training items alone say: per task, the most frequent training answer, given once at the
    median delay between question and answer in training (a model must beat it to show it watches)."""

    name = "prior"

    def __init__(self, train_items: list[Item]):
        self.answers = most_frequent_answers(train_items)
        delays: dict[str, list[float]] = defaultdict(list)
        for item in train_items:
            delays[item.task] += [a.end - item.query_time for a in item.answers]
        self.delay = {task: sorted(d)[len(d) // 2] for task, d in delays.items()}

    def reset(self, stream: Stream) -> None:
        self.task, self.fps, self.due = stream.task, stream.fps, None

    def act(self, turn: TurnInput) -> str:
        if turn.user_text and self.due is None and self.task in self.answers:
            self.due = turn.index + int(round(self.delay[self.task] * self.fps))
        if self.due is not None and turn.index == self.due:
            return protocol.response(self.answers[self.task][0])
        return protocol.SILENCE


class OraclePolicy(Policy):
    """Emits each ground-truth answer in the turn of its best timing (scores 100)."""

    name = "oracle"

    def __init__(self, items: list[Item]):
        self.items = {item.item_id: item for item in items}

    def reset(self, stream: Stream) -> None:
        item = self.items[stream.item_id]
        self.due: dict[int, list[str]] = defaultdict(list)
        for answer in item.answers:
            self.due[due_turn(answer, stream.fps)].append(answer.text)

    def act(self, turn: TurnInput) -> str:
        texts = self.due.get(turn.index)
        return protocol.response("; ".join(texts)) if texts else protocol.SILENCE


BASELINES = ("silent", "every-turn", "random", "prior", "oracle")


def make_policy(name: str, items: list[Item], train_items: list[Item], seed: int = 0,
                model_options: dict | None = None) -> Policy:
    """A policy by name: a baseline, ``model:PATH`` for a trained streaming model, or ``offline:PATH`` for
    any transformers VLM under the offline ("Wait") protocol."""
    if name.startswith("model:"):
        from streampro.model.stream import StreamingModel

        return StreamingModel.from_pretrained(name.split(":", 1)[1], seed=seed, **(model_options or {}))
    if name.startswith("offline:"):
        from streampro.model.offline import OfflinePolicy

        max_new_tokens = (model_options or {}).get("max_new_tokens", 24)  # the window is the streaming model's
        return OfflinePolicy.from_pretrained(name.split(":", 1)[1], max_new_tokens=max_new_tokens)
    if name == "silent":
        return SilentPolicy()
    if name == "every-turn":
        return EveryTurnPolicy(train_items)
    if name == "random":
        return RandomPolicy(train_items, seed=seed)
    if name == "prior":
        return PriorPolicy(train_items)
    if name == "oracle":
        return OraclePolicy(items)
    raise ValueError(f"unknown policy {name!r} (known: {', '.join(BASELINES)}, model:PATH)")
