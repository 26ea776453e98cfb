"""StreamPro-F1, as the paper defines it (docs/benchmark.md).

``s_time`` and ``s_acc`` are the two scoring functions that the GRPO rewards reuse.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from streampro.schema import Answer, Item, Response
from streampro.tasks import TaskSpec, get_task

_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


def time_distance(t: float, answer: Answer) -> float:
    """Δt: distance to the timestamp, or for intervals 0 inside and the distance to the nearest edge."""
    if answer.interval is not None:
        start, end = answer.interval
        return 0.0 if start <= t <= end else min(abs(t - start), abs(t - end))
    return abs(t - answer.time)


def tau_at(spec: TaskSpec, t: float, answer: Answer, tau: float | None = None) -> float:
    """The decay constant for a response at ``t``: the task's early τ before the answer's timing,
    its late τ after (they differ for RF only); ``tau`` overrides both (the RL rewards' universal τ)."""
    if tau is not None:
        return tau
    return spec.tau_early if t < answer.start else spec.tau_late


def s_time(t: float, answer: Answer, spec: TaskSpec, tau: float | None = None) -> float:
    """S_time = max(0, 1 − Δt/τ)."""
    return max(0.0, 1.0 - time_distance(t, answer) / tau_at(spec, t, answer, tau))


def in_window(t: float, answer: Answer, spec: TaskSpec) -> bool:
    lo, hi = spec.window(answer.start, answer.end)
    return lo <= t <= hi


def parse_span(text: str) -> tuple[float, float] | None:
    """The first two numbers of a TG response, as ``[start, end]`` (``"from 4s to 9s"`` → (4, 9))."""
    numbers = [float(n) for n in _NUMBER.findall(text)]
    if len(numbers) < 2:
        return None
    a, b = numbers[0], numbers[1]
    return (min(a, b), max(a, b))


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    if union <= 0:
        return 1.0 if a == b else 0.0
    return inter / union


def s_acc(item: Item, answer: Answer, text: str, judge) -> float:
    """S_acc in [0, 1]: the judge's 0–5 score / 5, except TG: IoU of the parsed span with the truth."""
    if get_task(item.task).needs_span and answer.span is not None:
        span = parse_span(text)
        return iou(span, answer.span) if span else 0.0
    return judge.score(item, answer, text) / 5.0


@dataclass
class AnswerMatch:
    s: float = 0.0
    s_time: float = 0.0
    s_acc: float = 0.0
    time: float | None = None  # time of the kept prediction
    n: int = 0  # predictions bound to this answer


@dataclass
class ItemScore:
    item_id: str
    task: str
    dimension: str | None
    n_pred: int
    n_gt: int
    matches: list[AnswerMatch] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(m.s for m in self.matches)

    @property
    def precision(self) -> float:
        return self.total / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.total / self.n_gt if self.n_gt else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def bind(item: Item, response: Response, judge) -> tuple[int, float, float] | None:
    """The answer a response binds to (the first whose window contains it) with its S_time and S_acc;
    None outside every window."""
    spec = get_task(item.task)
    for k, answer in enumerate(item.answers):
        if in_window(response.time, answer, spec):
            return k, s_time(response.time, answer, spec), s_acc(item, answer, response.text, judge)
    return None


def score_item(item: Item, responses: list[Response], judge) -> ItemScore:
    """Prediction-first matching: each prediction, in time order, binds to the first answer whose
    window contains it (and no other); an answer keeps its best-scoring prediction."""
    result = ItemScore(item.item_id, item.task, item.dimension, len(responses), len(item.answers),
                       [AnswerMatch() for _ in item.answers])
    for response in sorted(responses, key=lambda r: r.time):
        bound = bind(item, response, judge)
        if bound is None:
            continue
        k, st, sa = bound
        match = result.matches[k]
        match.n += 1
        if match.time is None or st * sa > match.s:
            match.s, match.s_time, match.s_acc, match.time = st * sa, st, sa, response.time
    return result


def response_scores(item: Item, responses: list[Response], judge) -> list[tuple[float, str, float | None]]:
    """Each response in time order as ``(time, text, S_time × S_acc)`` (None outside every window), for reports;
    multiple-choice items: 1 or 0 for the response that picks the letter."""
    if get_task(item.task).scoring == "choice":
        first = score_choice(item, responses).matches[0]
        return [(r.time, r.text, first.s if r.time == first.time else None) for r in sorted(responses, key=lambda r: r.time)]
    scored = []
    for response in sorted(responses, key=lambda r: r.time):
        bound = bind(item, response, judge)
        scored.append((response.time, response.text, None if bound is None else round(bound[1] * bound[2], 3)))
    return scored


_LETTER = re.compile(r"\b([A-Z])\b")


def choice_letter(text: str) -> str | None:
    """The option letter a multiple-choice response picks (``"(B) a dog"`` → ``"B"``)."""
    match = _LETTER.search(text.strip().upper()[:40])
    return match.group(1) if match else None


def score_choice(item: Item, responses: list[Response]) -> ItemScore:
    """Multiple-choice accuracy: the first response at or after the query picks the letter."""
    result = ItemScore(item.item_id, item.task, item.dimension, len(responses), 1, [AnswerMatch()])
    first = next((r for r in sorted(responses, key=lambda r: r.time) if r.time >= item.query_time), None)
    if first is not None:
        correct = float(choice_letter(first.text) == choice_letter(item.answers[0].text))
        result.matches[0] = AnswerMatch(s=correct, s_time=1.0, s_acc=correct, time=first.time, n=1)
    return result
