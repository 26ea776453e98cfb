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
    """Deterministic grading on the shared 0–5 scale (``streampro/bench/grading.py``) by key terms (the
    world's vocabulary and numbers; all content words when an answer has none): 0 for no answer, 1 for
    no key term right, else 1 + round(4 · precision · (1 + recall) / 2), lenient on omitted detail
    (recall) and strict on wrong detail (precision). A lettered multiple-choice answer: 5 or 1."""

    name = "rule"

    def score(self, item: Item, answer: Answer, text: str) -> int:
        said = tokens(text)
        if not said:
            return 0
        if item.options and choice_letter(answer.text) is not None:  # a lettered answer: the letter decides
            return 5 if choice_letter(text) == choice_letter(answer.text) else 1
        truth = tokens(answer.text)
        key = [t for t in truth if t in KEY_TERMS or t[0].isdigit()]
        if key:
            said_key = {t for t in said if t in KEY_TERMS or t[0].isdigit()}
            truth_set = set(key)
        else:
            truth_set = {t for t in truth if t not in STOPWORDS}
            said_key = {t for t in said if t not in STOPWORDS}
        hit = len(truth_set & said_key)
        if not hit:
            return 1
        precision, recall = hit / len(said_key), hit / len(truth_set)
        return 1 + int(round(4 * precision * (1 + recall) / 2 + 1e-9))

    def check(self, item: Item, rubric: Rubric, responses: list[str]) -> bool:
        check = rubric.check
        if check is None:
            raise ValueError(f"{item.item_id}: rubric {rubric.rubric_id!r} has no machine-readable check; "
                             "grade it with the openai judge")
        said = [set(tokens(r)) for r in responses]
        if check.type == "response_count":
            return (check.min or 0) <= len(responses) <= (check.max if check.max is not None else len(responses))
        if check.type == "distinct":  # silence earns no credit for "no repeats"
            return bool(responses) and len({" ".join(tokens(r)) for r in responses}) == len(responses)
        if check.type == "first_mentions":
            return bool(said) and all(w in said[0] for term in check.terms for w in tokens(term))
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
