"""The paper's ablations on the embedded world in one command (``streampro ablate``, ``make ablate``).

Arms: SFT with each loss of ``ablation.losses`` (ce, focal, cb_stream) and, with ``ablation.grpo``, SFT → GRPO
from the cb_stream SFT model; each over the training seeds ``ablation.seeds``. The world (videos, items,
trajectories, the bench) is the DAG's, made once from params.yaml ``seed``, so it is byte-identical across
arms and seeds; a training seed sets the tiny model's initialisation, the order of the training data and
the rollouts' sampling. Every other setting is params.yaml's, the same for all arms. With a copy curriculum
(``sft.curriculum``) it is trained once per seed into ``OUT/curriculum-sSEED/model`` and every SFT arm of
that seed starts from it, the curriculum off (a stand-in for the one pretrained checkpoint all the paper's
arms start from).

Each arm and seed writes ``OUT/ARM-sSEED/{model,bench,live}``. A finished step (its completion marker) is
kept; an unfinished SFT or GRPO resumes from its checkpoints: a stopped ablation picks up where it was.
An arm made with other settings, training code or world (``arm.json`` holds what it was made with) is trained
afresh; a kept model whose bench was scored by other bench code (``bench/bench.json``) is scored again.
The summary goes to ``reports/ablation.md`` and ``ablation.json`` (mean ± std over the seeds per dimension
and W-Avg, the paired gain of GRPO over SFT, GRPO's reward early and late), beside the paper's 3B table.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import statistics

from streampro import layout, storage
from streampro.config import Params
from streampro.outputs import MARKER, code_fingerprint, fingerprint

log = logging.getLogger(__name__)

# The paper's 3B ablations on StreamPro-Bench (W-Avg; ../shared/streampro-paper.md): SFT losses, then GRPO.
PAPER = {"ce": 6.6, "focal": 14.2, "cb_stream": 16.3, "grpo": 28.1}
DIMS = ("overall_w_avg", "overall_avg", "PU_f1", "TR_f1", "PA_f1")
TITLES = {"ce": "SFT, CE", "focal": "SFT, focal", "cb_stream": "SFT, CB-Stream", "grpo": "SFT (CB-Stream) → GRPO"}
SCALING = {"group": "over each group's reward std", "batch": "over the batch's reward std",
           "none": "not scaled"}


def done(folder: str) -> bool:
    return storage.exists(storage.join(folder, MARKER))


def arm_params(params: Params, seed: int, loss: str) -> Params:
    """The arm's settings: params.yaml with the training seed and the SFT loss set."""
    return params.model_copy(update={"seed": seed, "sft": params.sft.model_copy(update={"loss": loss})})


def step_code(step: str) -> str:
    """A hash of the source files that running ``step`` executes (``steptable.code_deps``, as dvc.yaml lists)."""
    from streampro.steps import STEPS
    from streampro.steptable import code_deps

    return code_fingerprint(code_deps(STEPS[step]))


def arm_key(p: Params, arm: str, inputs: list[str]) -> str:
    """What an arm's model depends on: its settings (all but the ablation's own, the cluster's and, for an
    SFT arm, GRPO's), the code its training step runs, and its inputs (the world; for GRPO, the SFT model
    it starts from)."""
    settings = p.model_dump(mode="json", exclude={"ablation", "orchestration"} | ({"grpo"} if arm != "grpo" else set()))
    blob = json.dumps([settings, step_code("grpo" if arm == "grpo" else "sft"), fingerprint(inputs)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def bench_key(model_key: str) -> str:
    """What an arm's bench results depend on: its model (``arm_key``) and the code the bench step runs."""
    return hashlib.sha256(json.dumps([model_key, step_code("bench")]).encode()).hexdigest()[:16]


def keep_or_clear(folder: str, key: str, stamp: str | None = None) -> None:
    """Keep ``folder`` only if it was made with ``key`` (recorded in ``stamp``, default ``folder/arm.json``);
    else clear it, so that a changed setting, code or world never leaves a stale arm in the table."""
    stamp = stamp or storage.join(folder, "arm.json")
    made_with = json.loads(storage.read_text(stamp)).get("key") if storage.exists(stamp) else None
    if made_with != key and storage.exists(folder):
        log.warning("ablation: %s was made with other settings, code or data: making it afresh", folder)
        storage.remove(folder)
    if made_with != key:
        storage.write_text(stamp, json.dumps({"key": key}) + "\n")


def curriculum_model(params: Params, sliced: str, out: str, seed: int) -> str:
    """The copy curriculum (params.yaml ``sft.curriculum``, under its own SFT loss) at ``seed``, trained once
    (or resumed, or kept) into ``OUT/curriculum-sSEED/model``: every SFT arm of that seed starts from it, as the
    paper's arms all start from one pretrained checkpoint."""
    from streampro.train.sft import train_curriculum

    folder = storage.join(out, f"curriculum-s{seed}")
    p = params.model_copy(update={"seed": seed})
    keep_or_clear(folder, arm_key(p, "curriculum", [layout.split_dir(sliced, "sft")]))
    model = storage.join(folder, "model")
    if not done(model):
        log.info("ablation: the copy curriculum, seed %d: training", seed)
        train_curriculum(p, layout.split_dir(sliced, "sft"), model)
    return model


def run_arm(params: Params, sliced: str, items: str, rl_items: str, out: str, arm: str, seed: int) -> dict:
    """Train (or resume, or keep) one arm at one seed and bench it; returns its bench metrics. An SFT arm
    starts from its seed's copy-curriculum model (when params.yaml has a curriculum)."""
    from streampro.steps import bench, grpo, sft

    folder = storage.join(out, f"{arm}-s{seed}")
    model, results = storage.join(folder, "model"), storage.join(folder, "bench")
    p = arm_params(params, seed, "cb_stream" if arm == "grpo" else arm)
    upstream = [storage.join(out, f"cb_stream-s{seed}", "model")] if arm == "grpo" else []
    start = None
    if arm != "grpo" and params.sft.curriculum:
        start = curriculum_model(params, sliced, out, seed)
        p, upstream = p.model_copy(update={"sft": p.sft.model_copy(update={"curriculum": []})}), [start]
    key = arm_key(p, arm, [sliced, items, rl_items, *upstream])
    keep_or_clear(folder, key)
    keep_or_clear(results, bench_key(key), storage.join(folder, "bench.json"))  # other bench code: score again
    if not done(model):
        log.info("ablation: %s, seed %d: training", arm, seed)
        if arm == "grpo":
            sft_model = storage.join(out, f"cb_stream-s{seed}", "model")
            grpo(p, sft_model, layout.split_dir(sliced, "rl"), rl_items, model, live=storage.join(folder, "live"))
        else:
            sft(p, layout.split_dir(sliced, "sft"), model, model=start, eval_trajectories=layout.split_dir(sliced, "rl"),
                live=storage.join(folder, "live"))
    if not done(results):
        bench(p, layout.split_dir(sliced, "bench"), items, results, policies=["model"], model=model, model_name=arm)
    return json.loads(storage.read_text(storage.join(results, f"model-{arm}", "metrics.json")))


def reward_quarters(model: str) -> tuple[float, float] | None:
    """GRPO's mean reward over the first and the last quarter of its steps (from the trainer's log)."""
    state = storage.join(model, "grpo_rewards.json")
    if not storage.exists(state):
        return None
    rewards = [r["reward"] for r in json.loads(storage.read_text(state))]
    q = max(1, len(rewards) // 4)
    return statistics.fmean(rewards[:q]), statistics.fmean(rewards[-q:])


def probe_rewards(model: str) -> tuple[float, float] | None:
    """The greedy policy's reward on GRPO's fixed probe streams before training and at its last probe."""
    path = storage.join(model, "grpo_summary.json")
    probes = json.loads(storage.read_text(path)).get("probe_rewards") if storage.exists(path) else None
    return (probes[0]["reward"], probes[-1]["reward"]) if probes and len(probes) > 1 else None


def _stats(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 2), "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
            "values": [round(v, 2) for v in values]}


def summarize(metrics: dict[str, dict[int, dict]], out: str) -> dict:
    """Mean ± std over seeds per arm and dimension, GRPO's paired gain over SFT and its reward early/late."""
    summary: dict = {"arms": {}, "seeds": sorted({s for by_seed in metrics.values() for s in by_seed})}
    for arm, by_seed in metrics.items():
        summary["arms"][arm] = {"title": TITLES.get(arm, arm),
                                **{d: _stats([by_seed[s].get(d, 0.0) for s in sorted(by_seed)]) for d in DIMS}}
    if "grpo" in metrics and "cb_stream" in metrics:
        seeds = sorted(set(metrics["grpo"]) & set(metrics["cb_stream"]))
        gains = [metrics["grpo"][s]["overall_w_avg"] - metrics["cb_stream"][s]["overall_w_avg"] for s in seeds]
        quarters = [reward_quarters(storage.join(out, f"grpo-s{s}", "model")) for s in seeds]
        quarters = [q for q in quarters if q]
        summary["grpo_gain"] = _stats(gains)
        if quarters:
            summary["grpo_reward"] = {"first_quarter": round(statistics.fmean(q[0] for q in quarters), 4),
                                      "last_quarter": round(statistics.fmean(q[1] for q in quarters), 4)}
        probes = [p for p in (probe_rewards(storage.join(out, f"grpo-s{s}", "model")) for s in seeds) if p]
        if probes:
            summary["grpo_probe"] = {"before": round(statistics.fmean(p[0] for p in probes), 4),
                                     "after": round(statistics.fmean(p[1] for p in probes), 4)}
    return summary


def curriculum(params: Params) -> str:
    """The copy curriculum every SFT arm starts from, in words ('' when there is none)."""
    phases = ", ".join(f"{'/'.join(c.tasks)} {c.cut} {c.steps}" for c in params.sft.curriculum)
    return (f"from the copy curriculum ({phases} steps, under {params.sft.loss}; one model per seed, the same "
            "for every SFT arm), " if phases else "")


def markdown(summary: dict, params: Params) -> str:
    def cell(arm: str, dim: str) -> str:
        s = summary["arms"][arm][dim]
        return f"{s['mean']:.1f} ± {s['std']:.1f}"

    seeds = summary["seeds"]
    lines = [f"# Ablations on the embedded world ({len(seeds)} training seed{'s' * (len(seeds) > 1)}: "
             f"{', '.join(map(str, seeds))})", "",
             "StreamPro-F1 on the bench split (0-100), mean ± std over the training seeds. The world and the bench "
             "are the same for every arm and seed; every setting other than the arm's is params.yaml's "
             f"(SFT: {curriculum(params)}{params.sft.max_steps} steps, lr {params.sft.learning_rate:g}, batch "
             f"{params.sft.batch_size}; "
             f"GRPO: {params.grpo.max_steps} steps of {params.grpo.streams_per_step} streams x "
             f"{params.grpo.num_generations} rollouts, lr {params.grpo.learning_rate:g}, advantages "
             f"{SCALING[params.grpo.scale_rewards]}). The paper's column: "
             "Qwen2.5-VL-3B on StreamPro-Bench (W-Avg).", "",
             "| arm | W-Avg | Avg | PU | TR | PA | paper (3B, W-Avg) |", "|---|---|---|---|---|---|---|"]
    for arm in summary["arms"]:
        lines.append(f"| {TITLES.get(arm, arm)} | " + " | ".join(cell(arm, d) for d in DIMS)
                     + f" | {PAPER.get(arm, '')} |")
    if "grpo_gain" in summary:
        g = summary["grpo_gain"]
        lines += ["", f"GRPO over SFT (same seed), W-Avg gain: {g['mean']:+.1f} ± {g['std']:.1f} "
                  f"(per seed: {', '.join(f'{v:+.1f}' for v in g['values'])}); the paper: 16.3 → 28.1."]
    if "grpo_reward" in summary:
        r = summary["grpo_reward"]
        lines += [f"GRPO's mean reward, first quarter of its steps {r['first_quarter']:.3f}, last quarter "
                  f"{r['last_quarter']:.3f} (sampled, on other streams each step; each quarter deals the same mix of tasks)."]
    if "grpo_probe" in summary:
        r = summary["grpo_probe"]
        lines += [f"GRPO's greedy reward on its {params.grpo.probe_streams} fixed probe streams: {r['before']:.3f} "
                  f"before training, {r['after']:.3f} after."]
    lines += ["", "Reproduce: `make ablate` (`streampro ablate`; each arm resumes where it stopped)."]
    return "\n".join(lines) + "\n"


def run_ablation(params: Params, sliced: str, items: str, rl_items: str, out: str, report: str) -> dict:
    """Every arm at every seed (seeds one after another: two torch processes on two cores are ~10× slower),
    then the summary into ``report``/ablation.md and ablation.json."""
    cfg = params.ablation
    arms = list(cfg.losses) + (["grpo"] if cfg.grpo else [])
    if cfg.grpo and "cb_stream" not in cfg.losses:
        raise ValueError("ablation.grpo trains from the cb_stream SFT model: keep cb_stream in ablation.losses")
    metrics: dict[str, dict[int, dict]] = {arm: {} for arm in arms}
    for seed in cfg.seeds:
        for arm in arms:
            metrics[arm][seed] = run_arm(params, sliced, items, rl_items, out, arm, seed)
    summary = summarize(metrics, out)
    os.makedirs(report, exist_ok=True)
    storage.write_text(os.path.join(report, "ablation.json"), json.dumps(summary, indent=2) + "\n")
    storage.write_text(os.path.join(report, "ablation.md"), markdown(summary, params))
    return summary
