"""``streampro bench ...`` and ``streampro report``: the benchmark's command line."""
from __future__ import annotations

import argparse
import json

from streampro import io, steps
from streampro.config import Params


def add_parsers(sub, common) -> None:
    bench = sub.add_parser(
        "bench", help="StreamPro-Bench: run policies, score predictions",
        description="StreamPro-Bench. `bench run` replays bench trajectories to one policy; `bench score` scores "
        "a predictions file with StreamPro-F1; `bench all` does both for every policy in params.yaml "
        "bench.policies and writes a comparison table.",
    )
    bsub = bench.add_subparsers(dest="bench_command", required=True, metavar="SUBCOMMAND")

    p = bsub.add_parser("run", help="replay the bench trajectories to a policy, write predictions",
                        description="Replay each bench trajectory turn by turn to a policy (silent, every-turn, "
                        "random, oracle, or model:PATH) and write its responses, stamped by the time rule.")
    common(p)
    p.add_argument("--policy", required=True, help="silent | every-turn | random | oracle | model:PATH")
    p.add_argument("--trajectories", required=True, help="folder of bench trajectory Parquet shards")
    p.add_argument("--items", required=True, help="the bench items (items/bench.jsonl)")
    p.add_argument("--train-items", default=None, help="training items, for every-turn and random")
    p.add_argument("--out", required=True, help="predictions .jsonl to write")

    p = bsub.add_parser("score", help="score a predictions file (StreamPro-F1)",
                        description="Score predictions against items: per task Time, Acc, Precision, Recall, F1; "
                        "per dimension; overall Avg and W-Avg (0-100). Writes OUT/metrics.json, report.md, "
                        "report.html. A bad predictions file is rejected whole, naming the line.")
    common(p)
    p.add_argument("--items", required=True, help="items .jsonl")
    p.add_argument("--predictions", required=True, help="predictions .jsonl")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--judge", choices=["rule", "openai"], default=None, help="default: params.yaml bench.judge")

    p = bsub.add_parser("all", help="run and score every policy of params.yaml (the bench step)",
                        description="For each policy in params.yaml bench.policies (or --policies): run it over "
                        "the bench trajectories, score it, write OUT/POLICY/{predictions.jsonl,metrics.json,"
                        "report.md,report.html}, then OUT/{metrics.json,report.md,report.html} comparing them.")
    common(p)
    p.add_argument("--trajectories", required=True, help="folder of bench trajectory Parquet shards")
    p.add_argument("--items", required=True, help="the bench items (items/bench.jsonl)")
    p.add_argument("--train-items", default=None, help="training items, for every-turn and random")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--policies", nargs="+", default=None, help="default: params.yaml bench.policies")

    p = sub.add_parser("peers", help="import peer benchmark annotations (OVO-Bench FAR, StreamingBench)",
                       description="Import a peer benchmark's annotation file as this project's bench items: "
                       "OVO-Bench's Forward Active Responding tasks (REC, SSR, CRR; re-scored with StreamPro-F1) or "
                       "StreamingBench's real-time questions (multiple choice, scored as accuracy). Writes "
                       "OUT/manifest.jsonl, OUT/items/bench.jsonl, OUT/dead_letters.jsonl, OUT/summary.json. "
                       "The mapping: docs/peers.md.")
    common(p)
    p.add_argument("--format", required=True, choices=["ovo-far", "streamingbench"])
    p.add_argument("--annotations", required=True, help="ovo_bench_new.json or questions_real.json")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--video-root", default=None, help="folder the annotation's video paths are under")

    p = sub.add_parser("report", help="one table comparing every policy scored",
                       description="Collect BENCH_DIR/*/metrics.json from one or more bench outputs and write "
                       "OUT/metrics.json ({policy: metrics}), report.md, report.html and per_task_f1.json.")
    common(p)
    p.add_argument("--bench", nargs="+", required=True, help="bench output folders")
    p.add_argument("--out", required=True, help="output folder")


def handle(args: argparse.Namespace, params: Params) -> object:
    from streampro.bench import evaluate

    if args.command == "peers":
        from streampro.bench.peers import import_peer, write_import

        return write_import(import_peer(args.annotations, args.format), args.out, args.video_root)
    if args.command == "report":
        return {p: m.get("overall_w_avg") for p, m in steps.report(params, args.bench, args.out).items()}
    if args.bench_command == "all":
        results = steps.bench(params, args.trajectories, args.items, args.out, args.train_items, args.policies)
        return {p: m.get("overall_w_avg") for p, m in results.items()}
    if args.bench_command == "run":
        items = io.read_items(args.items)
        train = io.read_items(args.train_items) if args.train_items else []
        return {"predictions": evaluate.run(args.policy, args.trajectories, items, train, args.out, params.seed)}
    judge = evaluate.judge_from(params.bench, args.judge)
    return evaluate.score(io.read_items(args.items), args.predictions, args.out, judge)


def dumps(result: object) -> str:
    return json.dumps(result)
