"""Stage one: SFT of a streaming video model with TRL's SFTTrainer and the CB-Stream loss.

Each training sample is one trajectory (or a window of ``model.window_turns`` turns of it) in the
streaming chat format; only the assistant tokens are supervised. The loss is ``sft.loss`` (ce |
focal | cb_stream, ``streampro/train/losses.py``). Checkpoints are written every ``sft.save_steps``
under ``OUT/checkpoints`` and a re-run resumes from the last one when the run's settings are the
same (a fingerprint of params and data is kept beside them). On a held-out batch the probability of
``</Response>`` at the turns where it is due, and elsewhere, is logged while training
(TensorBoard under ``OUT/checkpoints/runs`` and, for ``dvc plots``, a JSON log).
"""
from __future__ import annotations

import json
import logging
import os
import shutil

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

from streampro import storage
from streampro.config import Params
from streampro.data.parquet import read_trajectories
from streampro.model import runtime
from streampro.model.format import StreamFormat, StreamTurn
from streampro.model.tiny import build_tiny_model
from streampro.outputs import code_fingerprint, fingerprint
from streampro.schema import Trajectory
from streampro.timing import turn_label
from streampro.train import distributed
from streampro.train.checkpoints import PretrainedResumeMixin, checkpoint_dir, train_or_finish
from streampro.train.curriculum import CutWindowBatches
from streampro.train.losses import LossConfig, predicting_columns, stream_loss
from streampro.train.probes import DecisionProbe, decision_probabilities, frame_dependence
from streampro.train.tracking import LiveMetrics, history_rows, write_history, write_training_pages

log = logging.getLogger(__name__)


def windows(trajectory: Trajectory, size: int) -> list[list[StreamTurn]]:
    """The trajectory's turns cut into windows of ``size`` turns; a window after the question's turn
    repeats the question in its first turn."""
    turns = [StreamTurn(turn_label(t.index, trajectory.fps), t.user_text, t.target, t.frame) for t in trajectory.turns]
    question = next((t.user_text for t in trajectory.turns if t.user_text), "")
    asked_at = next((t.index for t in trajectory.turns if t.user_text), 0)
    chunks = []
    for start in range(0, len(turns), size):
        chunk = turns[start:start + size]
        if start > asked_at and question:
            chunk[0] = chunk[0]._replace(question=question)
        chunks.append(chunk)
    return chunks


class WindowBatches:
    """TRL's data collator: the dataset holds only window numbers; a batch is encoded from the windows."""

    def __init__(self, fmt: StreamFormat, samples: list[list[StreamTurn]]):
        self.fmt, self.samples = fmt, samples

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        return self.fmt.encode([self.samples[row["window"]] for row in rows])


def load_model(path: str, dtype=None):
    model = AutoModelForImageTextToText.from_pretrained(path, **runtime.load_kwargs(dtype or torch.float32))
    return model, AutoProcessor.from_pretrained(path)


# What SFT logs to DVCLive (reports/sft: metrics.json, plots/metrics/*.tsv): trainer log key -> metric name.
LIVE_METRICS = {"loss": "loss", "heldout_loss": "heldout_loss", "p_response_right": "p_response_right",
                "p_response_elsewhere": "p_response_elsewhere"}


def optimizer_groups(named_parameters, decay: set[str], lr: float, weight_decay: float,
                     vision_lr_scale: float) -> list[dict]:
    """AdamW parameter groups: the vision tower (``.visual.``) at ``vision_lr_scale`` × ``lr``, the rest at
    ``lr``; weight decay on the ``decay`` names only (the Trainer's choice: no biases, no norms)."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, param in named_parameters:
        if param.requires_grad:
            groups.setdefault((".visual." in f".{name}", name in decay), []).append(param)
    return [{"params": params, "lr": lr * (vision_lr_scale if vision else 1.0),
             "weight_decay": weight_decay if decays else 0.0} for (vision, decays), params in groups.items()]


def causal_inputs(inputs: dict) -> dict:
    """The forward's inputs without the attention mask when every row is right-padded (ones, then zeros).
    In a causal model no token attends to the padding after it, so a row's real tokens get the same
    outputs with or without the mask, and SDPA runs its causal kernel instead of a masked one. The padding
    columns' own outputs differ, but their labels are ignored. Left-padded or gapped masks are kept."""
    mask = inputs.get("attention_mask")
    if mask is None or not bool((mask[:, 1:] <= mask[:, :-1]).all()):
        return inputs
    return {key: value for key, value in inputs.items() if key != "attention_mask"}


class StreamSFTTrainer(PretrainedResumeMixin, SFTTrainer):
    """SFTTrainer whose loss is the configured streaming loss over the supervised tokens."""

    def __init__(self, *args, loss_config: LossConfig, vision_lr_scale: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_config = loss_config
        self.vision_lr_scale = vision_lr_scale

    def create_optimizer(self, model=None):
        """The Trainer's optimizer, with the vision tower's parameters at ``vision_lr_scale`` × the learning
        rate (the schedule scales every group alike)."""
        model = model or self.model
        if self.optimizer is None and self.vision_lr_scale != 1.0:
            cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            self.optimizer = cls(optimizer_groups(model.named_parameters(), set(self.get_decay_parameter_names(model)),
                                                  self.args.learning_rate, self.args.weight_decay,
                                                  self.vision_lr_scale), **kwargs)
        return super().create_optimizer(model)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The streaming loss, with the LM head run only at the columns that predict a supervised token
        (``logits_to_keep``) and, for right-padded batches, the causal kernel without a padding mask
        (``causal_inputs``): the same loss, a step 1.1× and 1.3× shorter on the tiny model
        (benchmarks/sft_step.py)."""
        labels = inputs.pop("labels")
        columns = predicting_columns(labels)
        outputs = model(**causal_inputs(inputs), logits_to_keep=columns)
        loss = stream_loss(outputs.logits, labels, self.loss_config, columns=columns)
        return (loss, outputs) if return_outputs else loss


def base_model_path(params: Params, out: str, model: str | None = None) -> str:
    """The checkpoint SFT starts from: ``model`` (the output of ``prepare``), else params.yaml
    model.name_or_path ('tiny': built and prepared under ``out/base``)."""
    if model:
        return model
    if params.model.name_or_path != "tiny":
        return params.model.name_or_path
    path = os.path.join(out, "base")
    if distributed.is_main() and not os.path.exists(os.path.join(path, "config.json")):
        build_tiny_model(path, frame_size=params.slice.frame_size, seed=params.seed, init_std=params.model.init_std)
    distributed.barrier()
    return path


def run_settings(params: Params, trajectories: str, model: str | None = None) -> list:
    """What defines an SFT run for resuming (how long to train and how often to save or log may change):
    the settings, the starting checkpoint, the training data and the code."""
    settings = params.sft.model_dump(exclude={"max_steps", "save_steps", "logging_steps"})
    return [settings, params.model.model_dump(), params.seed, params.slice.frame_size, fingerprint([trajectories]),
            code_fingerprint()] + ([fingerprint([model])] if model else [])


def sft_loss_config(params: Params, fmt: StreamFormat) -> LossConfig:
    """The streaming loss of params.yaml ``sft`` for the model whose format is ``fmt``."""
    cfg = params.sft
    return LossConfig(cfg.loss, fmt.silence_id, fmt.response_id, cfg.beta, cfg.lambda_text, cfg.focal_gamma)


def trainer_args(params: Params, output_dir: str, steps: int, model, save_on_each_node: bool = False,
                 by_length: bool = False) -> SFTConfig:
    """TRL's SFTConfig of an SFT run (or a curriculum phase) of ``steps`` steps: params.yaml ``sft``'s
    batch, learning rate (cosine, warm-up over a tenth of the steps, at most 20), saving and logging
    (``save_on_each_node``: every machine writes the model, for ranks that read it back from local disk).
    ``by_length``: batches of windows of about the same length (the Trainer's ``group_by_length`` sampler on
    the dataset's ``length`` column: random groups of up to 50 batches, sorted by length within each), so that
    little of a batch is padding and the attention runs on less of it (``benchmarks/sft_step.py``)."""
    cfg = params.sft
    return SFTConfig(
        output_dir=output_dir, max_steps=steps, per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, **distributed.sharding(cfg.distributed, model),
        learning_rate=cfg.learning_rate, lr_scheduler_type="cosine", warmup_steps=min(20, steps // 10),
        weight_decay=cfg.weight_decay, logging_steps=cfg.logging_steps, save_steps=cfg.save_steps, save_total_limit=2,
        report_to=["tensorboard"] if _has_tensorboard() else [], seed=params.seed,
        remove_unused_columns=False, dataset_kwargs={"skip_prepare_dataset": True}, max_length=None,
        dataloader_num_workers=0, disable_tqdm=False, gradient_checkpointing=False, save_on_each_node=save_on_each_node,
        train_sampling_strategy="group_by_length" if by_length else "random", **runtime.train_precision(),
    )


def _window_dataset(samples: list, fmt: StreamFormat | None = None):
    """The dataset the trainer samples: window numbers (the collator encodes them), with ``fmt`` their token
    counts as the ``length`` column the length-grouped sampler reads."""
    from datasets import Dataset

    columns = {"window": list(range(len(samples)))}
    if fmt is not None:
        columns["length"] = [fmt.token_count(w) for w in samples]
    return Dataset.from_dict(columns)


PHASE_RECORD = "curriculum.json"


def run_curriculum(params: Params, streams: list[Trajectory], start: str, folder: str) -> tuple[str, list[dict]]:
    """The copy curriculum's phases (params.yaml ``sft.curriculum``, streampro/train/curriculum.py), each
    trained from the one before (the first from ``start``) and saved under ``folder/curriculum-N-CUT``; a
    finished phase is kept, a stopped one resumes from its checkpoints. Returns the model SFT proper starts
    from and what each phase did."""
    done = []
    for number, cfg in enumerate(params.sft.curriculum, 1):
        samples = [w for t in streams if t.task in cfg.tasks for w in windows(t, params.model.window_turns)]
        if not samples:
            raise ValueError(f"sft.curriculum phase {number} tasks {cfg.tasks}: none of the SFT trajectories has "
                             "one of these tasks")
        phase = os.path.join(folder, f"curriculum-{number}-{cfg.cut}")
        record = os.path.join(phase, PHASE_RECORD)
        if not os.path.exists(record):
            model, processor = load_model(start)
            fmt = StreamFormat(processor)
            os.makedirs(os.path.join(phase, "checkpoints"), exist_ok=True)
            trainer = StreamSFTTrainer(model=model, args=trainer_args(params, os.path.join(phase, "checkpoints"),
                                                                      cfg.steps, model, save_on_each_node=True),
                                       train_dataset=_window_dataset(samples),
                                       data_collator=CutWindowBatches(fmt, samples, cfg.cut, f"{params.seed}/{number}"),
                                       processing_class=processor, loss_config=sft_loss_config(params, fmt),
                                       vision_lr_scale=params.sft.vision_lr_scale if cfg.vision_lr_scale is None
                                       else cfg.vision_lr_scale)
            log.info("sft: curriculum phase %d, %d steps on %d %s windows of %s", number, cfg.steps, len(samples),
                     cfg.cut, cfg.tasks)
            result = train_or_finish(trainer, get_last_checkpoint(os.path.join(phase, "checkpoints")))
            trainer.save_model(phase)  # on every machine: the next phase loads it from local disk
            entry = {**cfg.model_dump(), "windows": len(samples),
                     "train_loss": round(result.training_loss, 5) if result else None}
            if distributed.node_main():
                processor.save_pretrained(phase)
                storage.write_text(record, json.dumps(entry) + "\n")
            distributed.barrier()
        else:
            entry = json.loads(storage.read_text(record))
        done.append(entry)
        start = phase
    return start, done


def train_curriculum(params: Params, trajectories: str, out: str) -> dict:
    """Only the copy curriculum (``sft.curriculum``), from params.yaml's model ('tiny': built under ``out/base``),
    its last phase saved to ``out`` as a complete step output: one start for SFT runs that differ only in their
    loss (the ablation's arms of a seed). Returns what each phase did."""
    distributed.init()
    streams = list(read_trajectories(trajectories))
    if not streams:
        raise FileNotFoundError(f"no trajectories under {trajectories}")
    settings = run_settings(params, trajectories)
    with distributed.training_output(out, "curriculum", [trajectories], ("checkpoints", "base"), settings) as output:
        last, phases = run_curriculum(params, streams, base_model_path(params, output.path),
                                      checkpoint_dir(output.path, settings))
        if distributed.is_main():
            for name in os.listdir(last):
                if os.path.isfile(os.path.join(last, name)) and name != PHASE_RECORD:
                    shutil.copy2(os.path.join(last, name), output.path)
            storage.write_text(os.path.join(output.path, PHASE_RECORD), json.dumps(phases, indent=2) + "\n")
        output.counts = {"phases": len(phases)}
    return {"curriculum": phases}


def _train_sft(params: Params, trajectories: str, out: str, eval_trajectories: str | None = None,
              log_path: str | None = None, max_steps: int | None = None, model_path: str | None = None) -> dict:
    """Train, save the model and processor to ``out``, and return a summary."""
    cfg = params.sft
    streams = list(read_trajectories(trajectories))
    if not streams:
        raise FileNotFoundError(f"no trajectories under {trajectories}")
    held = list(read_trajectories(eval_trajectories)) if eval_trajectories else streams[-cfg.batch_size:]
    samples = [w for t in streams for w in windows(t, params.model.window_turns)]
    ckpt_dir = checkpoint_dir(out, run_settings(params, trajectories, model_path))
    start, curriculum = run_curriculum(params, streams, base_model_path(params, out, model_path), ckpt_dir)

    model, processor = load_model(start)
    fmt = StreamFormat(processor)
    probe_batch = fmt.encode([windows(t, params.model.window_turns)[0] for t in held[: cfg.batch_size]])
    args = trainer_args(params, ckpt_dir, max_steps or cfg.max_steps, model, by_length=True)
    loss_config = sft_loss_config(params, fmt)
    probe = DecisionProbe(fmt, probe_batch, loss_config)  # first: the live metrics see what it adds
    callbacks = [probe] + ([LiveMetrics(log_path, LIVE_METRICS)] if log_path else [])
    trainer = StreamSFTTrainer(model=model, args=args, train_dataset=_window_dataset(samples, fmt),
                               data_collator=WindowBatches(fmt, samples),
                               processing_class=processor, loss_config=loss_config, callbacks=callbacks,
                               vision_lr_scale=cfg.vision_lr_scale)
    last = get_last_checkpoint(ckpt_dir)
    if last:
        log.info("sft: resuming from %s", last)
    result = train_or_finish(trainer, last)
    in_sync = distributed.params_in_sync(trainer)  # (collectives: every rank calls them)
    trainer.save_model(out)  # rank 0 writes; under FSDP every rank gathers its shards for it
    probe = decision_probabilities(trainer.model, fmt, probe_batch, loss_config)  # (a forward: every rank, for FSDP)
    looks = frame_dependence_by_task(trainer.model, fmt, held, params.model.window_turns)  # (forwards: every rank)
    if not distributed.is_main():
        return {}
    if log_path:  # the whole curve, from the log history a resumed run restores from its checkpoint
        write_history(log_path, trainer.state.log_history, LIVE_METRICS)
    processor.save_pretrained(out)
    write_training_pages(out, history_rows(trainer.state.log_history, LIVE_METRICS), "SFT: loss, held-out loss, "
                         "P(</Response>) where due and elsewhere")
    summary = {"global_step": trainer.state.global_step, "resumed_from": last, "loss": cfg.loss,
               "ranks": distributed.world(), "ranks_in_sync": in_sync, "sharding": distributed.sharding_of(trainer),
               "global_batch": cfg.batch_size * cfg.gradient_accumulation_steps * distributed.world(),
               "train_loss": round(result.training_loss, 5) if result else None, "samples": len(samples),
               "curriculum": curriculum,
               **probe, "frame_gap": round(sum(v["frame_gap"] for v in looks.values()) / max(1, len(looks)), 4),
               "frame_dependence": looks}
    storage.write_text(os.path.join(out, "sft_summary.json"), json.dumps(summary, indent=2) + "\n")
    return summary


def frame_dependence_by_task(model, fmt: StreamFormat, held: list[Trajectory], window_turns: int,
                             per_task: int = 4) -> dict[str, dict[str, float]]:
    """``frame_dependence`` per task on the first window of up to ``per_task`` held-out streams of each task."""
    by_task: dict[str, list] = {}
    for trajectory in held:
        if len(by_task.setdefault(trajectory.task, [])) < per_task:
            by_task[trajectory.task].append(windows(trajectory, window_turns)[0])
    return {task: frame_dependence(model, fmt, ws) for task, ws in sorted(by_task.items())}


def _has_tensorboard() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def train_sft(params: Params, trajectories: str, out: str, eval_trajectories: str | None = None,
              log_path: str | None = None, max_steps: int | None = None, model: str | None = None) -> dict:
    """Train from ``model`` (a prepared checkpoint; default params.yaml model.name_or_path), save the model
    and processor to ``out`` (atomically, keeping ``checkpoints/`` to resume from), and return a summary."""
    distributed.init()
    model = distributed.fetch(model)
    with distributed.training_output(out, "sft", [trajectories, model], ("checkpoints", "base"),
                                     run_settings(params, trajectories, model)) as output:
        summary = _train_sft(params, trajectories, output.path, eval_trajectories, log_path, max_steps, model)
        output.counts = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return summary
