"""The step table: one step = one library entry point = one CLI command = one dvc stage = one
KFP component, all with the same name and the same parameters (from params.yaml).

The CLI (``streampro/cli.py``), the dvc stages (``dvc.yaml``) and the KFP components
(``components/``) are thin layers over the entry points defined here. ``docs/steps.md`` shows the
same table; a test keeps the two in step.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from streampro.config import Params

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    summary: str
    cli: str
    entry: Callable
    dvc_stage: str | None
    kfp_component: str | None


def synth(params: Params, out: str, videos: int | None = None, seed: int | None = None) -> dict:
    """Render the synthetic video world: videos, manifest, items per split, summary."""
    from streampro.synth.world import synthesize

    cfg = params.synth
    if videos is not None:
        cfg = cfg.model_copy(update={"videos": cfg.videos.model_copy(update={"sft": videos, "rl": videos, "bench": videos})})
    summary = synthesize(out, cfg, params.seed if seed is None else seed)
    log.info("synth: %d videos, items per split %s", summary["videos"], summary["items"])
    return summary


def slice(params: Params, manifest: str, out: str, items: list[str] | None = None,
          beam_args: list[str] | None = None) -> dict:
    """Slice videos into streaming trajectories with Apache Beam (Parquet per split + dead letters)."""
    from streampro.data.slicing import run_slice

    return run_slice(manifest, out, params.slice, item_files=items, beam_args=beam_args)


def ingest(params: Params, annotations: str, out: str, split: str | None = None,
           video_root: str | None = None) -> dict:
    """Ingest Streamo raw annotations as a manifest and items (bad records to dead letters)."""
    from streampro.data.streamo import ingest_streamo, write_ingested

    split = split or params.ingest.split
    result = ingest_streamo(annotations, params.ingest, split)
    summary = write_ingested(result, out, split, video_root)
    log.info("ingest: %s", summary)
    return summary


def bench(params: Params, trajectories: str, items: str, out: str, train_items: str | None = None,
          policies: list[str] | None = None) -> dict:
    """Run and score every policy (params.yaml bench.policies) on the bench split."""
    from streampro.bench.evaluate import bench_all

    return bench_all(params.bench, trajectories, items, train_items, out, policies, seed=params.seed,
                     model_options=model_options(params))


def model_options(params: Params) -> dict:
    """How a trained model plays a stream in the benchmark (greedy, the configured window)."""
    return {"window_turns": params.model.window_turns, "max_new_tokens": params.model.max_new_tokens}


def sft(params: Params, trajectories: str, out: str, eval_trajectories: str | None = None,
        plots: str | None = None, max_steps: int | None = None) -> dict:
    """SFT of the streaming model with the configured loss (TRL SFTTrainer); resumable."""
    from streampro.train.sft import train_sft

    return train_sft(params, trajectories, out, eval_trajectories, plots, max_steps)


def report(params: Params, bench_dirs: list[str], out: str) -> dict:
    """One table comparing every policy scored in ``bench_dirs`` (their ``*/metrics.json``)."""
    from streampro.bench.report import collect_metrics, write_comparison

    return write_comparison(out, collect_metrics(bench_dirs))


def rubrics(params: Params, items: str, out: str, force: bool = False) -> dict:
    """Rubric checkpoints for RL items that have none, written offline by the openai judge (cached)."""
    from streampro.bench.evaluate import write_rubrics

    summary = write_rubrics(params.bench, items, out, force)
    log.info("rubrics: %s", summary)
    return summary


def grpo(params: Params, model: str, trajectories: str, out: str, plots: str | None = None,
         max_steps: int | None = None) -> dict:
    """GRPO of the SFT model over whole streams with the multi-grained rewards (TRL GRPOTrainer)."""
    from streampro.train.grpo import train_grpo

    return train_grpo(params, model, trajectories, out, plots, max_steps)


STEPS: dict[str, Step] = {
    step.name: step
    for step in [
        Step("synth", "render the synthetic video world with exact ground truth",
             "streampro synth", synth, "synth", "components.steps.synth"),
        Step("ingest", "import Streamo raw annotations as items (the own-data entry)",
             "streampro ingest", ingest, "ingest", "components.steps.ingest"),
        Step("slice", "decode videos at 1 fps into labelled streaming trajectories (Apache Beam)",
             "streampro slice", slice, "slice", "components.steps.slice_videos"),
        Step("sft", "supervised fine-tuning with the CB-Stream loss (TRL SFTTrainer)",
             "streampro sft", sft, "sft", "components.steps.sft"),
        Step("rubrics", "rubric checkpoints for RL items without them (openai judge, offline, cached)",
             "streampro rubrics", rubrics, "rubrics", "components.steps.rubrics"),
        Step("grpo", "GRPO with format, turn and trajectory rewards over whole streams (TRL GRPOTrainer)",
             "streampro grpo", grpo, "grpo", "components.steps.grpo"),
        Step("bench", "run and score every policy on the bench split (StreamPro-F1)",
             "streampro bench all", bench, "bench", "components.steps.bench"),
        Step("report", "one table comparing every policy scored",
             "streampro report", report, "report", "components.steps.report"),
    ]
}
