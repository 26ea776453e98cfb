"""The ``rule`` judge: deterministic and offline. It grades the synthetic world's fixed vocabulary,
numbers, time spans and multiple-choice letters, and rubric checkpoints through their
machine-readable ``check``. Real data needs the ``openai`` judge (``streampro/bench/openai_judge.py``).
"""
from __future__ import annotations

import re

from streampro.bench.judge import Judge
from streampro.bench.metric import choice_letter
from streampro.schema import Answer, Item, Rubric
from streampro.synth.scene import COLOURS, SHAPES
from streampro.synth.scenarios import ANOMALIES, LANES, MOVES

_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
# The synthetic world's fixed vocabulary: the words that carry an answer's meaning there.
KEY_TERMS = (
    set(COLOURS) | set(SHAPES) | set(MOVES) | set(ANOMALIES) | {"grows", "shrinks", "done", "complete"}
    | {w for _, advice in LANES.values() for w in advice.split()}
)
STOPWORDS = {"the", "a", "an", "is", "are", "was", "it", "its", "of", "to", "in", "on", "at", "and", "now",
             "then", "this", "that", "there", "s", "from", "with", "by", "be", "has", "have", "just"}


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class RuleJudge(Judge):
    """Deterministic grading by key terms: score = round(5 · recall · precision) over the answer's
    key tokens (the world's vocabulary and numbers; all content words when it has none)."""

    name = "rule"

    def score(self, item: Item, answer: Answer, text: str) -> int:
        if item.options and choice_letter(answer.text) is not None:  # a lettered answer: the letter decides
            return 5 if choice_letter(text) == choice_letter(answer.text) else 0
        truth, said = tokens(answer.text), tokens(text)
        if not said:
            return 0
        key = [t for t in truth if t in KEY_TERMS or t[0].isdigit()]
        if key:
            said_key = {t for t in said if t in KEY_TERMS or t[0].isdigit()}
            truth_set = set(key)
        else:
            truth_set = {t for t in truth if t not in STOPWORDS}
            said_key = {t for t in said if t not in STOPWORDS}
        if not truth_set or not said_key:
            return 0
        hit = len(truth_set & said_key)
        return int(round(5 * (hit / len(truth_set)) * (hit / len(said_key))))

    def check(self, item: Item, rubric: Rubric, responses: list[str]) -> bool:
        check = rubric.check
        if check is None:
            raise ValueError(f"{item.item_id}: rubric {rubric.rubric_id!r} has no machine-readable check; "
                             "grade it with the openai judge")
        said = [set(tokens(r)) for r in responses]
        if check.type == "response_count":
            return (check.min or 0) <= len(responses) <= (check.max if check.max is not None else len(responses))
        firsts = []
        for term in check.terms:
            words = tokens(term)
            hit = next((k for k, s in enumerate(said) if all(w in s for w in words)), None)
            if hit is None:
                return False
            firsts.append(hit)
        if check.type == "mentions_all":
            return True
        return all(a <= b for a, b in zip(firsts, firsts[1:]))  # in_order
