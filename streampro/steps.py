"""The step table: every entry point of StreamPro, with its typed arguments and its place in the DAG.

The DAG's steps are below, the other commands in ``streampro/commands.py``; each entry is a thin call
of one library function. The table (``STEPS``, its shape in
``streampro/steptable.py``) drives the ``streampro`` CLI, is checked against ``dvc.yaml``, and makes
the KFP components and pipelines; ``docs/steps.md`` shows it (``streampro steps --markdown``).
"""
from __future__ import annotations

import logging

from streampro import commands, layout
from streampro.config import Params
from streampro.schema import SPLITS
from streampro.steptable import Arg, Dag, In, Out, Step, Task

log = logging.getLogger(__name__)


# --- the DAG's steps -------------------------------------------------------------------------------
def synth(params: Params, out: str, videos: int | None = None, seed: int | None = None) -> dict:
    """Render the synthetic video world: videos, manifest, items per split, summary."""
    from streampro.synth.world import synthesize

    cfg = params.synth
    if videos is not None:
        cfg = cfg.model_copy(update={"videos": cfg.videos.model_copy(update={s: videos for s in SPLITS})})
    summary = synthesize(out, cfg, params.seed if seed is None else seed)
    log.info("synth: %d videos, items per split %s", summary["videos"], summary["items"])
    return summary


def split_annotations(annotations: list[str], split: str) -> dict[str, str]:
    """``["sft=a.json", "b.json"]`` → ``{"sft": "a.json", split: "b.json"}`` (a bare file takes ``split``)."""
    by_split: dict[str, str] = {}
    for entry in annotations:
        name, sep, uri = entry.partition("=")
        if not sep or "://" in name or name not in SPLITS:
            name, uri = split, entry
        if name in by_split:
            raise ValueError(f"two annotation files for split {name!r}: {by_split[name]} and {uri}")
        by_split[name] = uri
    return by_split


def ingest(params: Params, annotations: list[str], out: str, split: str | None = None,
           video_root: str | None = None) -> dict:
    """Ingest Streamo raw annotations (one file per split) as one world (bad records to dead letters)."""
    from streampro.data.streamo import ingest_splits

    from streampro.outputs import check_dead_letter_share

    summary = ingest_splits(split_annotations(annotations, split or params.ingest.split), params.ingest, out,
                            video_root)
    log.info("ingest: %s", summary)
    check_dead_letter_share("ingest", summary["records_read"] - summary["records_skipped"], summary["records_dead"],
                            params.max_dead_letter_share, summary, layout.dead_letters_file(out))
    return summary


def rubrics(params: Params, items: str, out: str, force: bool = False) -> dict:
    """Rubric checkpoints for RL items that have none, written offline by the openai judge (cached)."""
    from streampro.bench.evaluate import write_rubrics

    summary = write_rubrics(params.bench, items, out, force)
    log.info("rubrics: %s", summary)
    return summary


def slice(params: Params, manifest: str, out: str, items: list[str] | None = None,
          beam_args: list[str] | None = None) -> dict:
    """Slice videos into streaming trajectories with Apache Beam (Parquet per split + dead letters)."""
    from streampro.data.slicing import run_slice

    return run_slice(manifest, out, params.slice, item_files=items, beam_args=beam_args,
                     max_dead_letter_share=params.max_dead_letter_share)


def prepare(params: Params, out: str, base: str | None = None) -> dict:
    """The checkpoint SFT starts from: params.yaml model.name_or_path (or ``base``) with the decision tokens."""
    from streampro.model.prepare import prepare_step

    return prepare_step(base or params.model.name_or_path, out, params.slice.frame_size, params.seed,
                        params.model.init_std)


def sft(params: Params, trajectories: str, out: str, model: str | None = None, eval_trajectories: str | None = None,
        live: str | None = None, max_steps: int | None = None) -> dict:
    """SFT of the streaming model with the configured loss (TRL SFTTrainer); resumable."""
    from streampro.train.sft import train_sft

    return train_sft(params, trajectories, out, eval_trajectories, live, max_steps, model)


def grpo(params: Params, model: str, trajectories: str, items: str, out: str, live: str | None = None,
         max_steps: int | None = None) -> dict:
    """GRPO of the SFT model over whole streams with the multi-grained rewards (TRL GRPOTrainer)."""
    from streampro.train.grpo import train_grpo

    return train_grpo(params, model, trajectories, items, out, live, max_steps)


def model_options(params: Params) -> dict:
    """How a trained model plays a stream in the benchmark (greedy, the configured window)."""
    return {"window_turns": params.model.window_turns, "max_new_tokens": params.model.max_new_tokens}


def bench(params: Params, trajectories: str, items: str, out: str, train_items: str | None = None,
          policies: list[str] | None = None, model: str | None = None, model_name: str | None = None) -> dict:
    """Run and score every policy (params.yaml bench.policies) on the bench split; the policy ``model``
    is the model folder ``--model`` (played as ``model:PATH``), reported as ``model-NAME``."""
    from streampro.bench.evaluate import bench_all, policy_folder

    if policies and "model" in policies and not model:
        raise ValueError("the policy 'model' needs --model (a model folder)")
    names = [f"model:{model}" if p == "model" else p for p in policies] if policies else None
    folders = {f"model:{model}": f"model-{model_name}" if model_name else policy_folder(f"model:{model}")}
    return bench_all(params.bench, trajectories, items, train_items, out, names, seed=params.seed,
                     model_options=model_options(params), folders=folders if model else None)


def report(params: Params, bench: list[str], out: str) -> dict:
    """One table comparing every policy scored in the ``bench`` folders (their ``*/metrics.json``)."""
    from streampro.bench.report import collect_metrics, policy_pages, run_record, write_comparison

    return write_comparison(out, collect_metrics(bench), run_record(params), policy_pages(bench))


# --- what the Kubeflow UI shows of a step's result -------------------------------------------------
def _sft_metrics(summary: dict) -> dict:
    return {k: summary[k] for k in ("global_step", "train_loss", "p_response_right", "p_response_elsewhere", "frame_gap")}


def _grpo_metrics(summary: dict) -> dict:
    out = {"global_step": summary["global_step"]}
    for when in ("first", "last"):
        out.update({f"reward_{k}_{when}": v for k, v in (summary.get(f"rewards_{when}") or {}).items() if k != "step"})
    return out


def _bench_metrics(results: dict) -> dict:
    return {f"{'model' if name.startswith('model:') else name}.{key}": m[key] for name, m in results.items()
            for key in ("overall_w_avg", "overall_avg", "PU_f1", "TR_f1", "PA_f1") if key in m}


def _report_metrics(results: dict) -> dict:
    return {f"{p}.{k}": m[k] for p, m in results.items() for k in ("overall_w_avg", "overall_avg") if k in m}


def _w_avg(results: dict) -> dict:
    return {p: m.get("overall_w_avg") for p, m in results.items()}


# --- the table -------------------------------------------------------------------------------------
OUT_DIR = "output folder (local path or gs://bucket/prefix)"
TRAIN_ITEMS = In("world", layout.items_file("sft"))
MODEL = In("model", kind="Model")
BENCH_INPUTS = {"trajectories": "slice.trajectories", "world": "world"}
_steps = [
    Step("synth", "render the synthetic video world with exact ground truth",
         "Render MP4 videos of simple scenes and write the manifest, the sft/rl/bench items with exact ground truth "
         "for the seven StreamPro-Bench tasks, and summary.json (layout: streampro/layout.py).", synth,
         (Arg("out", OUT_DIR, required=True, dag=Out("world")),
          Arg("videos", "videos in EACH split (default: params.yaml synth.videos per split)", int),
          Arg("seed", "world seed (default: params.yaml seed)", int)),
         dag=Dag((Task("synth"),), world=True, params=("seed", "synth"))),
    Step("ingest", "import Streamo raw annotations as a world (the own-data entry)",
         "Read Streamo's raw annotation format (a JSON list or JSON lines of records with video_name, video_path, "
         "task_type, source, question [{content, time}], response [{content, st_time, end_time, time}]), one file per "
         "split, and write one world: OUT/manifest.jsonl, OUT/items/SPLIT.jsonl, OUT/dead_letters.jsonl and "
         "OUT/summary.json. task_type maps to a task through params.yaml ingest.task_map (docs/interop.md).", ingest,
         (Arg("annotations", "Streamo raw annotation files, SPLIT=FILE or FILE (then --split); local or gs://",
              many=True, required=True, kfp_param=True),
          Arg("out", "output folder", required=True, dag=Out("world")),
          Arg("split", "split of a FILE given without SPLIT= (default: params.yaml ingest.split)", choices=SPLITS),
          Arg("video_root", "folder that relative video_path values are under", kfp_param=True)),
         dag=Dag((Task("ingest"),), world=True, params=("ingest", "max_dead_letter_share"))),
    Step("rubrics", "rubric checkpoints for RL items without them (openai judge, offline, cached)",
         "For each item of ITEMS without a rubric (every item with --force), the openai judge (bench.judge_url, "
         "bench.judge_model) writes 6-10 binary checkpoints (granularity, coherence, coverage) from the question and "
         "answers; calls are cached. Items that carry a rubric (the synthetic world's) are kept. Writes all items to "
         "OUT.", rubrics,
         (Arg("items", "items .jsonl (the rl split)", required=True, dag=In("world", layout.items_file("rl"))),
          Arg("out", "items .jsonl to write", required=True, dag=Out("rl_items")),
          Arg("force", "rewrite rubrics that exist", switch=True)),
         dag=Dag((Task("rubrics", {"world": "world"}),), judge_key=True, params=("bench",))),
    Step("slice", "decode videos at 1 fps into labelled streaming trajectories (Apache Beam)",
         "Decode each video at slice.sample_fps, resize frames to slice.frame_size, and write one trajectory per item "
         "(a turn per frame, the question at its turn, </Silence> or </Response> + answer per turn) as sharded Parquet "
         "per split under OUT/{sft,rl,bench}/, bad inputs to OUT/dead_letters/, counts to OUT/summary.json. Any other "
         "flags are Beam pipeline options, e.g. --runner DataflowRunner --project P --region R --temp_location "
         "gs://B/tmp --sdk_container_image IMAGE, or --direct_num_workers 2.", slice,
         (Arg("manifest", "manifest.jsonl (local or gs://)", required=True, dag=In("world", layout.MANIFEST)),
          Arg("out", OUT_DIR, required=True, dag=Out("trajectories")),
          Arg("items", "item files (default: items/{sft,rl,bench}.jsonl beside the manifest)", many=True,
              dag=(In("world", layout.items_file("sft")), In("rl_items"), In("world", layout.items_file("bench")))),
          Arg("beam_args", "Beam pipeline options (on the command line: any flag not listed here)", many=True,
              kfp_param=True)),
         extra_args="beam_args",
         dag=Dag((Task("slice", {"world": "world", "rl_items": "rubrics.rl_items"}),),
                 params=("slice", "max_dead_letter_share"))),
    Step("prepare", "add the decision tokens to the checkpoint SFT starts from (tiny, Qwen2.5-VL, Qwen3-VL)",
         "Load params.yaml model.name_or_path (or --base: a model id or folder; 'tiny' builds the embedded model from "
         "its config) with its processor, add </Silence> and </Response> as special tokens (one id each), grow the "
         "embeddings only where the new ids do not fit (never shrink), start the new rows at the mean embedding, keep the "
         "checkpoint's chat template, and save it to OUT with prepare.json recording what was added. Running it again on "
         "OUT changes nothing. SFT trains from OUT (`streampro sft --model OUT`).", prepare,
         (Arg("out", "output folder for the prepared checkpoint", required=True, dag=Out("model", "Model")),
          Arg("base", "the checkpoint: a model id or a folder (default: params.yaml model.name_or_path)")),
         show=lambda r: {k: v for k, v in r.items() if k != "init"},
         dag=Dag((Task("prepare"),), params=("seed", "model", "slice"))),
    Step("sft", "supervised fine-tuning with the CB-Stream loss (TRL SFTTrainer)",
         "Fine-tune the prepared checkpoint (--model, the output of `streampro prepare`; default params.yaml "
         "model.name_or_path, 'tiny' prepared on the fly) on sliced trajectories in the streaming format, supervising "
         "only the assistant tokens, with sft.loss (ce | focal | cb_stream), after the copy phases of sft.curriculum "
         "(the tiny model's; [] for a pretrained checkpoint). Saves the model and processor to OUT, "
         "checkpoints every sft.save_steps under OUT/checkpoints, and resumes from the last one when re-run with the "
         "same settings.", sft,
         (Arg("trajectories", "training trajectories (a split folder of Parquet shards)", required=True,
              dag=In("trajectories", "sft")),
          Arg("out", "output folder for the model", required=True, dag=Out("model", "Model")),
          Arg("model", "the prepared checkpoint to start from (`streampro prepare`)", dag=In("base_model", kind="Model")),
          Arg("eval_trajectories", "held-out trajectories for the decision probabilities logged while training "
              "(default: the last training streams)", dag=In("trajectories", "rl")),
          Arg("live", "DVCLive folder for the loss, held-out loss and decision probabilities per logged step "
              "(dvc plots; their last values in dvc metrics/exp show)"),
          Arg("max_steps", "override sft.max_steps", int)),
         dag=Dag((Task("sft", {"base_model": "prepare.model", "trajectories": "slice.trajectories"}, gpu=True),), image="gpu",
                 cache=False, metrics=_sft_metrics, trainjob="sft_summary.json",
                 ui={"html": "training.html", "markdown": "training.md"},
                 params=("seed", "model", "sft", "slice", "orchestration"))),
    Step("grpo", "GRPO with format, turn and trajectory rewards over whole streams (TRL GRPOTrainer)",
         "From the SFT model, roll out each rl stream grpo.num_generations times turn by turn (KV cache, temperature "
         "grpo.temperature), reward each episode with R = w_fmt*R_fmt + w_turn*R_turn + w_traj*R_traj "
         "(grpo.reward_weights; R_turn with the universal tolerance grpo.tau; R_traj from the items' rubrics graded by "
         "bench.judge), and update the policy with TRL's GRPOTrainer; only the policy's own tokens carry loss. Each "
         "reward component is logged per step. Saves the model to OUT; resumes from OUT/checkpoints.", grpo,
         (Arg("model", "the SFT model folder", required=True, dag=In("sft_model", kind="Model")),
          Arg("trajectories", "rl trajectories (a split folder of Parquet shards)", required=True,
              dag=In("trajectories", "rl")),
          Arg("items", "the rl items the trajectories were sliced from, with their rubrics (the ground truth)",
              required=True, dag=In("rl_items")),
          Arg("out", "output folder for the model", required=True, dag=Out("model", "Model")),
          Arg("live", "DVCLive folder for the reward and its components per step (dvc plots; the last values in "
              "dvc metrics/exp show)"),
          Arg("max_steps", "override grpo.max_steps", int)),
         dag=Dag((Task("grpo", {"sft_model": "sft.model", "trajectories": "slice.trajectories",
                                "rl_items": "rubrics.rl_items"}, gpu=True),),
                 image="gpu", cache=False, judge_key=True, metrics=_grpo_metrics, trainjob="grpo_summary.json",
                 ui={"html": "training.html", "markdown": "training.md"},
                 params=("seed", "model", "grpo", "bench", "orchestration"))),
    Step("bench", "run and score every policy on the bench split (StreamPro-F1)",
         "For each policy in params.yaml bench.policies (or --policies): run it over the bench trajectories, score it, "
         "write OUT/POLICY/{predictions.jsonl,metrics.json,report.md,report.html}, then OUT/{metrics.json,report.md,"
         "report.html} comparing them.", bench,
         (Arg("trajectories", "folder of bench trajectory Parquet shards", required=True,
              dag=In("trajectories", "bench")),
          Arg("items", "the bench items (items/bench.jsonl)", required=True, dag=In("world", layout.items_file("bench"))),
          Arg("out", "output folder", required=True, dag=Out("results")),
          Arg("train_items", "training items, for every-turn and random", dag=TRAIN_ITEMS),
          Arg("policies", "silent | every-turn | random | oracle | model (the --model folder) | model:PATH | "
              "offline:PATH (default: params.yaml bench.policies)", many=True, kfp_param=True),
          Arg("model", "a trained model folder, the policy 'model'", dag=MODEL),
          Arg("model_name", "the policy 'model' is reported as model-NAME (default: the --model folder's name)",
              kfp_param=True)),
         command=("bench", "all"), show=_w_avg,
         dag=Dag((Task("bench", BENCH_INPUTS),
                  Task("bench_sft", {**BENCH_INPUTS, "model": "sft.model"},
                       {"policies": ["model"], "model_name": "sft"}, gpu=True),
                  Task("bench_grpo", {**BENCH_INPUTS, "model": "grpo.model"},
                       {"policies": ["model"], "model_name": "grpo"}, gpu=True)),
                 image="gpu", judge_key=True, metrics=_bench_metrics, params=("seed", "bench", "model"),
                 ui={"html": "report.html", "markdown": "report.md"})),
    Step("report", "one table comparing every policy scored",
         "Collect BENCH_DIR/*/metrics.json from one or more bench outputs and write OUT/metrics.json "
         "({policy: metrics}), report.md, report.html and per_task_f1.json.", report,
         (Arg("bench", "bench output folders", many=True, required=True,
              dag=(In("baselines"), In("sft_bench"), In("grpo_bench"))),
          Arg("out", "output folder", required=True, dag=Out("table"))),
         show=_w_avg,
         dag=Dag((Task("report", {"baselines": "bench.results", "sft_bench": "bench_sft.results",
                                  "grpo_bench": "bench_grpo.results"}),),
                 metrics=_report_metrics, ui={"html": "report.html", "markdown": "report.md"},
                 params=("seed", "model", "sft", "grpo", "bench"))),
    Step("bench-run", "replay the bench trajectories to one policy, write predictions",
         "Replay each bench trajectory turn by turn to a policy (silent, every-turn, random, oracle, model:PATH or "
         "offline:PATH) and write its responses, stamped by the time rule.", commands.bench_run,
         (Arg("policy", "silent | every-turn | random | oracle | model:PATH | offline:PATH", required=True),
          Arg("trajectories", "folder of bench trajectory Parquet shards", required=True),
          Arg("items", "the bench items (items/bench.jsonl)", required=True),
          Arg("out", "predictions .jsonl to write", required=True),
          Arg("train_items", "training items, for every-turn and random")),
         command=("bench", "run")),
    Step("bench-score", "score a predictions file (StreamPro-F1)",
         "Score predictions against items: per task Time, Acc, Precision, Recall, F1; per dimension; overall Avg and "
         "W-Avg (0-100). Writes OUT/metrics.json, report.md, report.html. A bad predictions file is rejected whole, "
         "naming the line.", commands.bench_score,
         (Arg("items", "items .jsonl", required=True),
          Arg("predictions", "predictions .jsonl", required=True),
          Arg("out", "output folder", required=True),
          Arg("judge", "default: params.yaml bench.judge", choices=("rule", "openai"))),
         command=("bench", "score")),
    Step("ablate", "the paper's ablations: SFT with CE, focal, CB-Stream, and SFT -> GRPO, over training seeds",
         "For each training seed of params.yaml ablation.seeds, train SFT with each loss of ablation.losses and (with "
         "ablation.grpo) GRPO from the CB-Stream model, on the one world sliced under --trajectories, and bench each; "
         "every arm and seed under OUT/ARM-sSEED/ (a finished one is kept, an unfinished one resumes from its "
         "checkpoints). Writes REPORT/ablation.md and ablation.json: mean +- std over the seeds per dimension and "
         "W-Avg, beside the paper's 3B table.", commands.ablate,
         (Arg("trajectories", "the sliced world (its sft, rl and bench splits)", required=True),
          Arg("items", "the bench items (items/bench.jsonl)", required=True),
          Arg("rl_items", "the rl items with their rubrics (GRPO's ground truth)", required=True),
          Arg("out", "output folder for the arms' models and bench results", required=True),
          Arg("report", "folder for ablation.md and ablation.json", default="reports")),
         show=lambda r: {arm: v["overall_w_avg"] for arm, v in r["arms"].items()}),
    Step("stream", "watch a video with a streaming model and print its responses as it plays",
         "Decode VIDEO at slice.sample_fps, feed it turn by turn to the model (KV cache, sliding window of "
         "model.window_turns), ask QUESTION at --query-time, and print every response with its time.", commands.stream,
         (Arg("model", "a trained streaming model (folder or model id)", required=True),
          Arg("video", "a video file (local or gs://)", required=True),
          Arg("question", "the question to ask", required=True),
          Arg("query_time", "when the question is asked (seconds)", float, default=0.0),
          Arg("sample", "sample instead of greedy decoding", switch=True),
          Arg("show_silence", "also print the silent turns", switch=True)),
         show=lambda result: None),
    Step("peers", "import peer benchmark annotations (OVO-Bench FAR, StreamingBench)",
         "Import a peer benchmark's annotation file as this project's bench items: OVO-Bench's Forward Active "
         "Responding tasks (REC, SSR, CRR; re-scored with StreamPro-F1) or StreamingBench's real-time questions "
         "(multiple choice, scored as accuracy). Writes OUT/manifest.jsonl, OUT/items/bench.jsonl, "
         "OUT/dead_letters.jsonl, OUT/summary.json. The mapping: docs/peers.md.", commands.peers,
         (Arg("format", "the peer benchmark's format", required=True, choices=("ovo-far", "streamingbench")),
          Arg("annotations", "ovo_bench_new.json or questions_real.json", required=True),
          Arg("out", "output folder", required=True),
          Arg("video_root", "folder the annotation's video paths are under")),
         params=False),
    Step("export-stream", "export trajectories as ms-swift 'stream' records (Streamo's trainer format)",
         "Write every trajectory under --trajectories as one JSON line {messages, videos}: a system turn, per second a "
         "user turn '<Xs-Ys>\\n<stream>' (the question text before it at its turn) and the assistant turn </Silence> "
         "or </Response> + answer.", commands.export_stream,
         (Arg("trajectories", "a split folder of trajectory Parquet shards", required=True),
          Arg("manifest", "the manifest the trajectories were sliced from", required=True),
          Arg("out", "output .jsonl", required=True)),
         params=False),
    Step("submit", "compile pipelines/full.py and submit it to a Kubeflow Pipelines endpoint",
         "Compile the pipeline (as `kfp dsl compile` does) and create a run with kfp.Client, in one go. Pipeline "
         "arguments default to params.yaml; --arguments overrides them, e.g. '{\"params\": {...}}'. --dry-run only "
         "compiles.", commands.submit,
         (Arg("host", "KFP endpoint (default: $KFP_HOST)"),
          Arg("pipeline", "pipeline file (default: %(default)s)", default="pipelines/full.py"),
          Arg("experiment", "experiment name (default: %(default)s)", default="streampro"),
          Arg("run_name", "run name (default: KFP's)"),
          Arg("arguments", "JSON object of pipeline arguments"),
          Arg("dry_run", "compile only", switch=True),
          Arg("output", "where to write the compiled pipeline (default: a temporary file; the tracked .yaml is "
              "left alone)")),
         params=False),
    Step("steps", "print the step table (CLI, library entry, dvc stages and KFP tasks)",
         "Print the step table: for every step its CLI command, library entry point, and its dvc stages and KFP tasks "
         "(the same names).", commands.steps,
         (Arg("json", "machine-readable output", switch=True),
          Arg("markdown", "the table of docs/steps.md", switch=True),
          Arg("mermaid", "the DAG as a Mermaid flowchart (the README's picture)", switch=True)),
         params=False),
]
STEPS: dict[str, Step] = {step.name: step for step in _steps}
