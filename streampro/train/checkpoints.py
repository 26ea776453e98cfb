"""Resuming a Trainer's weights from its own checkpoint.

transformers 5 saves Qwen2.5-VL checkpoints with its legacy key names (``visual.*``, ``model.layers.*``)
and maps them back in ``from_pretrained``; ``Trainer._load_from_checkpoint`` loads the raw file and,
finding none of the model's keys, leaves the weights as they were. Loading through
``from_pretrained`` restores them; the optimizer, scheduler and RNG states still come from Trainer.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil

log = logging.getLogger(__name__)


class PretrainedResumeMixin:
    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        if getattr(self, "is_fsdp_enabled", False):  # sharded weights: Trainer's FSDP loader
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        target = self.accelerator.unwrap_model(model if model is not None else self.model)
        loaded = type(target).from_pretrained(resume_from_checkpoint, dtype=next(target.parameters()).dtype)
        missing, unexpected = target.load_state_dict(loaded.state_dict(), strict=False)
        tied = set(getattr(target, "_tied_weights_keys", None) or {})
        if unexpected or set(missing) - set(tied) - {"lm_head.weight"}:
            raise RuntimeError(f"checkpoint {resume_from_checkpoint} does not fit the model: missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]}")


def finished_steps(checkpoint: str | None) -> int:
    """The global step a checkpoint was written at (0 for none)."""
    if not checkpoint:
        return 0
    with open(os.path.join(checkpoint, "trainer_state.json")) as f:
        return int(json.load(f)["global_step"])


def train_or_finish(trainer, checkpoint: str | None):
    """``trainer.train`` resuming from ``checkpoint``; when that checkpoint already reached ``max_steps``
    its weights are the result (Trainer would otherwise take one step more)."""
    if checkpoint and finished_steps(checkpoint) >= trainer.args.max_steps:
        trainer._load_from_checkpoint(checkpoint)
        trainer.state.global_step = finished_steps(checkpoint)
        with open(os.path.join(checkpoint, "trainer_state.json")) as f:
            trainer.state.log_history = json.load(f)["log_history"]
        return None
    return trainer.train(resume_from_checkpoint=checkpoint)


def checkpoint_dir(out: str, settings: object) -> str:
    """``out/checkpoints``, kept only when written by a run with the same ``settings`` (any JSON-able
    value: the params and data that define the run); otherwise emptied so training starts afresh.
    In a distributed run rank 0 decides and the others wait for it."""
    from streampro.train import distributed

    folder = os.path.join(out, "checkpoints")
    if not distributed.is_main():
        distributed.barrier()
        return folder
    try:
        return _checkpoint_dir(folder, settings)
    finally:
        distributed.barrier()


def _checkpoint_dir(folder: str, settings: object) -> str:
    stamp = os.path.join(folder, "FINGERPRINT")
    fingerprint = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    if os.path.exists(folder):
        kept = open(stamp).read() if os.path.exists(stamp) else None
        if kept != fingerprint:
            log.info("settings changed since the checkpoints in %s were written; starting afresh", folder)
            shutil.rmtree(folder)
    os.makedirs(folder, exist_ok=True)
    with open(stamp, "w") as f:
        f.write(fingerprint)
    return folder
