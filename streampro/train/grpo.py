"""Stage two: GRPO over whole streams with multi-grained rewards, on TRL's GRPOTrainer.

TRL 1.16 has no notion of frames injected between turns (docs/model.md, "GRPO"), so a
thin subclass does the rollouts: ``_generate`` plays each stream G times with the policy's KV cache
(``streampro/train/rollout.py``) and returns TRL's 8-tuple, with a mask that trains only the
policy's own tokens and with every frame of the episode as its images. Setting ``self.tools`` to a
no-op tool switches on the branch of ``_generate_and_score_completions`` that rebuilds vision inputs
over prompt *and* completion; this relies on TRL internals, hence the pinned version.
"""
from __future__ import annotations

import json
import logging
import os
import random

import torch
from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint
from trl import GRPOConfig, GRPOTrainer

from streampro import storage
from streampro.bench.judges import judge_from
from streampro.config import Params
from streampro.data.parquet import read_trajectories
from streampro.outputs import IncompleteOutput, code_fingerprint, fingerprint
from streampro.model import runtime
from streampro.model.prepare import decision_ids
from streampro.model.stream import StreamingModel
from streampro.schema import Item, Trajectory
from streampro.train import distributed
from streampro.train.checkpoints import PretrainedResumeMixin, checkpoint_dir, train_or_finish
from streampro.train.rewards import FormatReward, TrajectoryReward, TurnReward
from streampro.train.rollout import play_episode
from streampro.train.tracking import LiveMetrics, history_rows, write_history, write_training_pages

log = logging.getLogger(__name__)


def _frames_between_turns() -> None:
    """No-op tool: its presence makes TRL rebuild vision inputs over the whole episode."""


class StreamGRPOTrainer(PretrainedResumeMixin, GRPOTrainer):
    def __init__(self, *args, streams: dict[str, Trajectory], max_new_tokens: int = 24, **kwargs):
        super().__init__(*args, **kwargs)
        self.streams, self.max_new_tokens = streams, max_new_tokens
        self.tools = [_frames_between_turns]  # see the module docstring (TRL 1.16 internals)
        self._standalone_tools = [_frames_between_turns]
        self.last_batch: dict = {}  # the latest rollout batch, for logs and tests

    def _generate_and_score_completions(self, inputs):
        self._batch_inputs = inputs
        output = super()._generate_and_score_completions(inputs)
        self.last_batch.update({"advantages": output["advantages"].detach().cpu(),
                                "tool_mask": output.get("tool_mask"), "completion_mask": output["completion_mask"]})
        return output

    def _generate(self, prompts: list):
        model = self.accelerator.unwrap_model(self.model)
        was_training = model.training
        policy = StreamingModel(model, self.processing_class, window_turns=10**6, do_sample=True,
                                temperature=self.temperature, max_new_tokens=self.max_new_tokens,
                                seed=int(self.state.global_step) * 7919 + 17 + 1_000_003 * self.accelerator.process_index)
        episodes = [play_episode(policy, self.streams[row["item_id"]]) for row in self._batch_inputs]
        model.train(was_training)
        self.last_batch = {"episodes": episodes, "item_ids": [row["item_id"] for row in self._batch_inputs]}
        completions = [[{"role": "assistant", "content": "\n".join(e.turn_outputs)}] for e in episodes]
        lengths = torch.tensor([float(sum(e.mask)) for e in episodes])
        mode = "train" if self.model.training else "eval"
        self._metrics[mode]["completions/mean_length"].append(lengths.mean().item())
        extra = {"turn_outputs": [e.turn_outputs for e in episodes]}
        return ([e.prompt_ids for e in episodes], [e.completion_ids for e in episodes], [e.mask for e in episodes],
                completions, None, extra, [e.images for e in episodes], [e.images[1:] for e in episodes])


# What GRPO logs to DVCLive (reports/grpo): TRL's log key -> metric name.
LIVE_METRICS = {"reward": "reward", "rewards/fmt/mean": "fmt", "rewards/turn/mean": "turn", "rewards/traj/mean": "traj",
                "probe_reward": "probe_reward"}


def dealt_by_task(streams: dict[str, Trajectory], rng: random.Random | None = None) -> list[str]:
    """Every stream id once, dealt in rounds of one per task (each task's streams sorted, or in ``rng``'s
    random order)."""
    by_task: dict[str, list[str]] = {}
    for item_id in sorted(streams):
        by_task.setdefault(streams[item_id].task, []).append(item_id)
    for ids in by_task.values() if rng else ():
        rng.shuffle(ids)
    return [ids[k] for k in range(max(map(len, by_task.values()), default=0)) for ids in by_task.values() if k < len(ids)]


def probe_set(streams: dict[str, Trajectory], size: int) -> list[str]:
    """Up to ``size`` stream ids, fixed for a run: the first of each task in turn, then the next of each."""
    return dealt_by_task(streams)[:size]


def task_interleaved(streams: dict[str, Trajectory], seed: int) -> list[str]:
    """The training order: each task's streams in a seeded random order, dealt one per task, so that every
    few steps (and every quarter of a run) see the same mix of tasks, whose rewards differ far more than the
    policy's progress moves them."""
    return dealt_by_task(streams, random.Random(seed))


class RewardProbe(TrainerCallback):
    """The greedy policy's weighted reward on a fixed set of rl streams, before training and after its last
    step: unlike the per-step training reward (other streams each step, sampled), it compares like with
    like. Logged as ``probe_reward`` in the trainer's log history (and so in DVCLive)."""

    def __init__(self, trainer: "StreamGRPOTrainer", item_ids: list[str]):
        self.trainer, self.item_ids = trainer, item_ids

    def reward(self) -> float:
        trainer = self.trainer
        model = trainer.accelerator.unwrap_model(trainer.model)
        was_training = model.training
        policy = StreamingModel(model, trainer.processing_class, window_turns=10**6, do_sample=False,
                                max_new_tokens=trainer.max_new_tokens)
        outputs = [play_episode(policy, trainer.streams[i]).turn_outputs for i in self.item_ids]
        model.train(was_training)
        total = 0.0
        for weight, reward in zip(trainer.reward_weights.tolist(), trainer.reward_funcs):
            total += weight * sum(reward(None, None, turn_outputs=outputs, item_id=self.item_ids)) / len(outputs)
        return round(total, 4)

    def _probe(self, state) -> None:
        if any(e.get("step") == state.global_step and "probe_reward" in e for e in state.log_history):
            return  # (a resumed run probed this step before it stopped)
        state.log_history.append({"step": state.global_step, "probe_reward": self.reward()})

    def on_train_begin(self, args, state, control, **kwargs):
        self._probe(state)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == state.max_steps:
            self._probe(state)


def items_of_streams(streams: dict[str, Trajectory], items_uri: str, trajectories: str) -> dict[str, Item]:
    """The ground truth of each stream: its item from the items file (the one source through the DAG)."""
    items = {i.item_id: i for i in storage.read_items(items_uri)}
    for item_id, stream in streams.items():
        item = items.get(item_id)
        if item is None or item.answers != stream.answers:
            raise ValueError(f"{trajectories}: trajectory {stream.trajectory_id!r} was not sliced from the items of "
                             f"{items_uri} ({'no such item' if item is None else 'other answers'}): re-run slice")
    return {i: items[i] for i in streams}


def run_settings(params: Params, model_path: str, trajectories: str, items: str) -> list:
    """What defines a GRPO run for resuming (how long to train and how often to save may change): the
    settings, the judge, the SFT model, the streams, their items and rubrics, and the code."""
    judge = params.bench.model_dump(include={"judge", "judge_url", "judge_model"})
    return [params.grpo.model_dump(exclude={"max_steps", "save_steps", "probe_streams"}), params.model.max_new_tokens, params.seed,
            judge, fingerprint([model_path, trajectories, items]), code_fingerprint()]


def build_trainer(params: Params, model_path: str, trajectories: str, items: str, out: str,
                  log_path: str | None = None, max_steps: int | None = None) -> StreamGRPOTrainer:
    """The configured trainer (checkpoints under ``out/checkpoints``, reset when the settings changed)."""
    from datasets import Dataset
    from transformers import AutoProcessor

    cfg = params.grpo
    if not storage.is_remote(model_path) and not os.path.exists(os.path.join(model_path, "config.json")):
        raise IncompleteOutput(f"{model_path} holds no model (no config.json): run `streampro sft` first")
    decision_ids(AutoProcessor.from_pretrained(model_path).tokenizer, model_path)  # else: run `prepare`
    streams = {t.item_id: t for t in read_trajectories(trajectories)}
    if not streams:
        raise FileNotFoundError(f"no trajectories under {trajectories}")
    per_step = cfg.streams_per_step * distributed.world()
    if len(streams) < per_step:  # TRL would drop the only, incomplete batch and "train" for 0 steps
        raise ValueError(f"{trajectories}: {len(streams)} rl stream(s), fewer than one step takes (grpo.streams_per_step "
                         f"{cfg.streams_per_step} x {distributed.world()} process(es)): lower grpo.streams_per_step")
    truth = items_of_streams(streams, items, trajectories)
    judge = judge_from(params.bench)
    ckpt_dir = checkpoint_dir(out, run_settings(params, model_path, trajectories, items))
    steps = max_steps or cfg.max_steps
    args = GRPOConfig(
        output_dir=ckpt_dir, max_steps=steps, per_device_train_batch_size=cfg.num_generations * cfg.streams_per_step,
        num_generations=cfg.num_generations, temperature=cfg.temperature, learning_rate=cfg.learning_rate,
        beta=cfg.beta, scale_rewards=cfg.scale_rewards,
        reward_weights=[cfg.reward_weights.fmt, cfg.reward_weights.turn, cfg.reward_weights.traj],
        logging_steps=1, save_steps=cfg.save_steps, save_total_limit=2, seed=params.seed, shuffle_dataset=False,
        report_to=["tensorboard"], max_completion_length=100_000,
        mask_truncated_completions=False, remove_unused_columns=False, gradient_checkpointing=False,
        model_init_kwargs=runtime.load_kwargs(torch.float32), **runtime.train_precision(),  # fp32 master weights
    )
    order = task_interleaved(streams, params.seed)  # TRL keeps this order (shuffle_dataset=False)
    rows = [{"prompt": [{"role": "user", "content": f"stream {i}"}], "item_id": i} for i in order]
    rewards = [FormatReward(truth), TurnReward(truth, judge, tau=cfg.tau), TrajectoryReward(truth, judge)]
    trainer = StreamGRPOTrainer(model=model_path, reward_funcs=rewards, args=args, train_dataset=Dataset.from_list(rows),
                                processing_class=AutoProcessor.from_pretrained(model_path), streams=streams,
                                max_new_tokens=params.model.max_new_tokens,
                                callbacks=[LiveMetrics(log_path, LIVE_METRICS)] if log_path else [])
    if cfg.probe_streams:
        trainer.add_callback(RewardProbe(trainer, probe_set(streams, cfg.probe_streams)))
    return trainer


def _train_grpo(params: Params, model_path: str, trajectories: str, items: str, out: str, log_path: str | None = None,
               max_steps: int | None = None) -> dict:
    """GRPO from the SFT model at ``model_path`` on the rl trajectories, rewarded against ``items`` (the
    rl items, with their rubrics); saves the model to ``out``."""
    trainer = build_trainer(params, model_path, trajectories, items, out, log_path, max_steps)
    ckpt_dir = trainer.args.output_dir
    last = get_last_checkpoint(ckpt_dir)
    train_or_finish(trainer, last)
    in_sync = distributed.params_in_sync(trainer)  # (collectives: every rank calls them)
    trainer.save_model(out)  # rank 0 writes; under FSDP every rank gathers its shards for it
    if not distributed.is_main():
        return {}
    trainer.processing_class.save_pretrained(out)
    write_training_pages(out, history_rows(trainer.state.log_history, LIVE_METRICS), "GRPO: reward and its components")
    history = [{"step": e["step"], "reward": round(float(e["reward"]), 4),
                **{n: round(float(e[f"rewards/{n}/mean"]), 4) for n in ("fmt", "turn", "traj") if f"rewards/{n}/mean" in e}}
               for e in trainer.state.log_history if "reward" in e]
    probes = [{"step": e["step"], "reward": e["probe_reward"]} for e in trainer.state.log_history if "probe_reward" in e]
    if log_path:  # the whole curve, from the log history a resumed run restores from its checkpoint
        write_history(log_path, trainer.state.log_history, LIVE_METRICS)
    storage.write_text(os.path.join(out, "grpo_rewards.json"), json.dumps(history) + "\n")  # the reward per step
    summary = {"global_step": trainer.state.global_step, "resumed_from": last, "num_generations": params.grpo.num_generations,
               "ranks": distributed.world(), "ranks_in_sync": in_sync, "sharding": distributed.sharding_of(trainer),
               "streams_per_step": distributed.world() * trainer.args.gradient_accumulation_steps * params.grpo.streams_per_step,
               "rewards_first": history[0] if history else None, "rewards_last": history[-1] if history else None,
               "probe_streams": len(probe_set(trainer.streams, params.grpo.probe_streams)), "probe_rewards": probes}
    storage.write_text(os.path.join(out, "grpo_summary.json"), json.dumps(summary, indent=2) + "\n")
    return summary


def train_grpo(params: Params, model_path: str, trajectories: str, items: str, out: str, log_path: str | None = None,
               max_steps: int | None = None) -> dict:
    """GRPO from the SFT model at ``model_path`` on the rl trajectories, rewarded against ``items`` (the
    rl items, with their rubrics); saves the model to ``out`` (atomically, keeping ``checkpoints/``)."""
    distributed.init()
    model_path = distributed.fetch(model_path)
    with distributed.training_output(out, "grpo", [model_path, trajectories, items], ("checkpoints",),
                                     run_settings(params, model_path, trajectories, items)) as output:
        summary = _train_grpo(params, model_path, trajectories, items, output.path, log_path, max_steps)
        output.counts = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return summary
