"""The copy curriculum: SFT phases that grow the one skill a pretrained checkpoint brings and the embedded
tiny model lacks, copying the object the question names (its colour, its shape) into the answers.

Trained on whole windows the tiny model learns *when* to speak and the task's sentence, but names a random
object: no attention head retrieves the question's word across a window (docs/model.md, "A fast loop for
the copy"). Before SFT proper it trains, phase after phase (``sft.curriculum``), on the windows of some tasks
(OU by default: "tell me when the circle turns red", answered by naming it) cut one of two ways:

- ``short``: the question's turn and the first answer's turn only, ~35 tokens apart: the copy at short range;
- ``thinned``: each batch a fresh copy of each window with a random share of the turns between the question
  and its first answer dropped, so the question stands at every distance from its answer.

On OU, short then thinned grows a copy head (held-out p(word) 1.00 on full windows, measured with
``scripts/copy_probe.py``); neither alone does, nor do full windows, nor both tasks at once. A thinned
phase on EU after it spreads the copy to EU. A window with no question before an answer is kept whole.
AA's windows, thinned, train beside OU's and EU's (the embedded default): without them the copy phases leave the
model unable to learn to read its frames at all (its residual stream grows ~100× while the image tokens stay
small); with them the vision tower keeps pace and the final model times AA by what it sees (docs/model.md,
"Copy and look").
A phase may also take whole windows (``full``): one task's timing on its own before the mix (docs/model.md,
"Does the model look?").
Each phase is a run of the same trainer as SFT, with its own schedule.
"""
from __future__ import annotations

import random

import torch

from streampro.model.format import StreamFormat, StreamTurn
from streampro.protocol import RESPONSE

CUTS = ("short", "thinned")


def cut_window(window: list[StreamTurn], how: str, rng: random.Random) -> list[StreamTurn]:
    """``window`` cut ``how`` (``full``: unchanged; ``short`` | ``thinned``: as the module says)."""
    if how not in ("full", *CUTS):
        raise ValueError(f"unknown cut {how!r}: full, short or thinned")
    asked = next((i for i, t in enumerate(window) if t.question), None)
    first = next((i for i, t in enumerate(window) if t.target.startswith(RESPONSE)), None)
    if how == "full" or asked is None or first is None or first < asked:
        return window
    keep = rng.random() if how == "thinned" else 0.0
    return [window[asked]] + [t for t in window[asked + 1:first] if rng.random() < keep] + [window[first]]


class CutWindowBatches:
    """TRL's data collator for a curriculum phase: the dataset holds window numbers; each batch is encoded
    from the windows cut afresh (a seeded generator: the same run draws the same cuts)."""

    def __init__(self, fmt: StreamFormat, samples: list[list[StreamTurn]], how: str, seed: int | str = 0):
        self.fmt, self.samples, self.how, self.rng = fmt, samples, how, random.Random(seed)

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        return self.fmt.encode([cut_window(self.samples[row["window"]], self.how, self.rng) for row in rows])
