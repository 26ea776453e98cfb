"""The 0–5 answer scale both judges grade on (after the paper's Appendix E), and the hand-graded
cases they share: the openai judge reads them as calibration examples in its prompt, and the rule
judge is tested against them.

- 5: the same information as the reference (wording does not matter);
- 4: right, but a detail of the reference is left out (lenient on omitted detail);
- 3: mostly right, with one wrong or extra detail;
- 2: partly right: some of the reference, some of it wrong;
- 1: factually incorrect (an answer was given, but not this one);
- 0: no answer at all (empty).

S_acc = score / 5, so a timely but wrong answer still earns 0.2 of its timing, as in the paper.
"""
from __future__ import annotations

from typing import NamedTuple

SCALE = (
    "5: the same information as the reference answer (wording does not matter). "
    "4: right, but a detail of the reference is left out (be lenient on omitted detail). "
    "3: mostly right, with one wrong or extra detail. "
    "2: partly right, partly wrong. "
    "1: factually incorrect: an answer was given, but it is not the reference's. "
    "0: only when there is no answer at all."
)


class GradedCase(NamedTuple):
    reference: str
    response: str
    score: int


CASES = (
    GradedCase("the red circle moves left", "The red circle moves left.", 5),
    GradedCase("the red circle moves left", "it moves left", 4),
    GradedCase("the red circle moves left", "the red square moves left", 3),
    GradedCase("the red circle moves left", "the blue square moves left", 2),
    GradedCase("the red circle moves left", "the blue square moves right", 1),
    GradedCase("warning: yellow square ahead, keep left", "keep left", 4),
    GradedCase("alert: fire", "alert: flood", 1),
    GradedCase("the square turned yellow", "", 0),
)


def calibration_text() -> str:
    """The shared cases as examples for an LLM judge's prompt."""
    return "\n".join(f'- reference "{c.reference}", response "{c.response}" -> {c.score}' for c in CASES)
