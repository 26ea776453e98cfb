"""The judge interface: grade a response against a ground-truth answer (0–5), and grade a whole
predicted trajectory against a rubric checkpoint (pass / fail).

Two judges implement it: ``rule`` (``streampro/bench/rule_judge.py``, deterministic and offline) and
``openai`` (``streampro/bench/openai_judge.py``, any OpenAI-compatible chat endpoint, cached on disk).
``streampro/bench/judges.py`` makes one from params.
"""
from __future__ import annotations

from streampro.schema import Answer, Item, Rubric


class Judge:
    name = "judge"

    def score(self, item: Item, answer: Answer, text: str) -> int:
        """0–5: how well ``text`` gives ``answer`` (for the question of ``item``)."""
        raise NotImplementedError

    def check(self, item: Item, rubric: Rubric, responses: list[str]) -> bool:
        """Whether a whole predicted trajectory (its response texts, in order) meets a checkpoint."""
        raise NotImplementedError
