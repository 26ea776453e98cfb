"""What SFT watches on held-out streams while it trains (logged beside the training loss, so that over-fitting
and a model that ignores its frames both show):

- ``decision_probabilities``: the mean P(``</Response>``) at the decision turns where it is due and elsewhere,
  and the held-out loss;
- ``frame_dependence``: the same probabilities with every turn's frame replaced by the window's first frame.
  A model that times its answers by what it sees loses its due-turn probability there; one that speaks on a
  clock (the turn labels, the question) keeps it (docs/model.md, "Does the model look?").
"""
from __future__ import annotations

import torch
from transformers import TrainerCallback

from streampro.model.format import StreamFormat, StreamTurn
from streampro.train.losses import LossConfig, stream_loss


@torch.no_grad()
def decision_probabilities(model, fmt: StreamFormat, batch: dict, loss_config: LossConfig | None = None
                           ) -> dict[str, float]:
    """Mean P(``</Response>``) at the decision positions where it is due, and where ``</Silence>`` is;
    with ``loss_config``, also the training loss on this (held-out) batch."""
    was_training = model.training
    model.eval()
    inputs = {k: v.to(model.device) for k, v in batch.items() if k != "labels"}
    logits = model(**inputs).logits
    probs = torch.softmax(logits.float(), dim=-1)[..., fmt.response_id]
    held_out = {} if loss_config is None else {
        "heldout_loss": round(float(stream_loss(logits, batch["labels"].to(logits.device), loss_config,
                                                distributed=False)), 5)}
    model.train(was_training)
    right, elsewhere = [], []
    for row, positions in enumerate(fmt.decision_positions(batch["labels"])):
        for pos in positions:
            p = float(probs[row, pos - 1])  # the logits before a token predict it
            (right if int(batch["labels"][row, pos]) == fmt.response_id else elsewhere).append(p)
    mean = lambda v: sum(v) / len(v) if v else 0.0  # noqa: E731
    return {**held_out, "p_response_right": round(mean(right), 4), "p_response_elsewhere": round(mean(elsewhere), 4)}


class DecisionProbe(TrainerCallback):
    """Logs the held-out loss and decision probabilities on a held-out batch at every logging step, beside
    the training loss (so over-fitting shows)."""

    def __init__(self, fmt: StreamFormat, batch: dict, loss_config: LossConfig | None = None):
        self.fmt, self.batch, self.loss_config = fmt, batch, loss_config

    def on_log(self, args, state, control, model=None, logs=None, **kwargs):
        if model is None or logs is None or "loss" not in logs:
            return
        probe = decision_probabilities(model, self.fmt, self.batch, self.loss_config)
        logs.update(probe)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(probe)  # kept in trainer_state.json, so a resumed run still has it


def frozen_frames(window: list[StreamTurn]) -> list[StreamTurn]:
    """``window`` with every turn showing its first turn's frame: the same text, nothing happening on screen."""
    return [turn._replace(frame=window[0].frame) for turn in window] if window else window


def frame_dependence(model, fmt: StreamFormat, windows: list[list[StreamTurn]]) -> dict[str, float]:
    """P(``</Response>``) where due and elsewhere on ``windows`` with their frames frozen (``frozen_frames``),
    beside the same on their own frames; ``frame_gap``: how much of the due-turn probability the frames give."""
    own = decision_probabilities(model, fmt, fmt.encode(windows))
    frozen = decision_probabilities(model, fmt, fmt.encode([frozen_frames(w) for w in windows]))
    return {"p_response_right_frozen_frames": frozen["p_response_right"],
            "p_response_elsewhere_frozen_frames": frozen["p_response_elsewhere"],
            "frame_gap": round(own["p_response_right"] - frozen["p_response_right"], 4)}
