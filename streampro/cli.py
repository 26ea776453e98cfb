"""The ``streampro`` command: one subcommand per step of the step table, plus helpers.

Every subcommand reads ``params.yaml`` (``--params``), optionally laid under a profile
(``--profile profiles/paper.yaml``); its own flags override single values for one run.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from streampro import cli_bench, cli_model, steps, submit
from streampro.config import DEFAULT_PARAMS, ConfigError, load_params
from streampro.schema import RecordError

log = logging.getLogger("streampro")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=DEFAULT_PARAMS, help="params file (default: %(default)s)")
    parser.add_argument("--profile", default=None, help="a partial params file laid over --params, "
                        "e.g. profiles/paper.yaml for the paper's settings")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streampro",
        description="StreamPro: proactive streaming video assistants. Each subcommand is one step of the "
        "pipeline (see `streampro steps`); all read their settings from params.yaml.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("steps", help="print the step table (CLI, library entry, dvc stage, KFP component)",
                       description="Print the step table: for every step its CLI command, library entry "
                       "point, dvc stage and KFP component.")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser(
        "synth", help="render the synthetic video world (videos, manifest, items)",
        description="Render MP4 videos of simple scenes and write the manifest, the sft/rl/bench items with "
        "exact ground truth for the seven StreamPro-Bench tasks, and summary.json.",
    )
    _common(p)
    p.add_argument("--out", required=True, help="output folder (local path or gs://bucket/prefix)")
    p.add_argument("--videos", type=int, default=None,
                   help="videos in EACH split (default: params.yaml synth.videos per split)")
    p.add_argument("--seed", type=int, default=None, help="world seed (default: params.yaml seed)")

    p = sub.add_parser(
        "ingest", help="import Streamo raw annotations as a manifest and items",
        description="Read Streamo's raw annotation format (a JSON list or JSON lines of records with video_name, "
        "video_path, task_type, source, question [{content, time}], response [{content, st_time, end_time, time}]) "
        "and write OUT/manifest.jsonl, OUT/items/SPLIT.jsonl, OUT/dead_letters.jsonl and OUT/summary.json. "
        "task_type maps to a task through params.yaml ingest.task_map. The mapping: docs/interop.md.",
    )
    _common(p)
    p.add_argument("--annotations", required=True, help="Streamo raw annotation file (local or gs://)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--split", choices=["sft", "rl", "bench"], default=None, help="split of the items "
                   "(default: params.yaml ingest.split)")
    p.add_argument("--video-root", default=None, help="folder that relative video_path values are under")

    p = sub.add_parser(
        "export-stream", help="export trajectories as ms-swift 'stream' records (Streamo's trainer format)",
        description="Write every trajectory under --trajectories as one JSON line {messages, videos}: a system "
        "turn, per second a user turn '<Xs-Ys>\\n<stream>' (the question text before it at its turn) and the "
        "assistant turn </Silence> or </Response> + answer.",
    )
    _common(p)
    p.add_argument("--trajectories", required=True, help="a split folder of trajectory Parquet shards")
    p.add_argument("--manifest", required=True, help="the manifest the trajectories were sliced from")
    p.add_argument("--out", required=True, help="output .jsonl")

    p = sub.add_parser(
        "slice", help="slice videos into labelled streaming trajectories (Apache Beam)",
        description="Decode each video at slice.sample_fps, resize frames to slice.frame_size, and write one "
        "trajectory per item (a turn per frame, the question at its turn, </Silence> or </Response> + answer per "
        "turn) as sharded Parquet per split under OUT/{sft,rl,bench}/, bad inputs to OUT/dead_letters/, counts to "
        "OUT/summary.json. Any other flags are Beam pipeline options, e.g. --runner DataflowRunner --project P "
        "--region R --temp_location gs://B/tmp --sdk_container_image IMAGE, or --direct_num_workers 2.",
    )
    _common(p)
    p.add_argument("--manifest", required=True, help="manifest.jsonl (local or gs://)")
    p.add_argument("--items", nargs="+", default=None,
                   help="item files (default: items/{sft,rl,bench}.jsonl beside the manifest)")
    p.add_argument("--out", required=True, help="output folder (local or gs://)")

    cli_bench.add_parsers(sub, _common)
    cli_model.add_parsers(sub, _common)
    submit.add_parser(sub)
    return parser


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose + 1, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _print_steps(as_json: bool) -> None:
    rows = [
        {"step": s.name, "cli": s.cli, "entry": f"streampro.steps.{s.entry.__name__}",
         "dvc_stage": s.dvc_stage or "-", "kfp_component": s.kfp_component or "-", "summary": s.summary}
        for s in steps.STEPS.values()
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"{r['step']:8} {r['cli']:20} {r['entry']:28} dvc:{r['dvc_stage']:8} kfp:{r['kfp_component']}  # {r['summary']}")


def main(argv: list[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if extra and args.command != "slice":
        build_parser().error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "steps":
        _print_steps(args.json)
        return 0
    if args.command == "submit":
        try:
            print(json.dumps(submit.handle(args)))
        except ValueError as exc:
            print(f"streampro submit: error: {exc}", file=sys.stderr)
            return 2
        return 0
    _setup_logging(args.verbose)
    try:
        params = load_params(args.params, args.profile)
        if args.command == "synth":
            summary = steps.synth(params, args.out, videos=args.videos, seed=args.seed)
            print(json.dumps(summary))
        elif args.command == "ingest":
            print(json.dumps(steps.ingest(params, args.annotations, args.out, args.split, args.video_root)))
        elif args.command == "export-stream":
            from streampro.data.streamo import export_stream

            print(json.dumps({"records": export_stream(args.trajectories, args.manifest, args.out)}))
        elif args.command in ("sft", "grpo", "rubrics", "stream"):
            result = cli_model.handle(args, params)
            if args.command in ("sft", "grpo", "rubrics"):
                print(json.dumps(result))
        elif args.command in ("bench", "report", "peers"):
            print(cli_bench.dumps(cli_bench.handle(args, params)))
        elif args.command == "slice":
            summary = steps.slice(params, args.manifest, args.out, items=args.items, beam_args=extra)
            print(json.dumps(summary))
    except (ConfigError, RecordError, FileNotFoundError, ValueError) as exc:
        print(f"streampro {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
