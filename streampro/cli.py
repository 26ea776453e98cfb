"""The ``streampro`` command, built from the step table (``streampro/steps.py``): one subcommand per
step, its flags from the step's typed arguments, each a thin call of the step's entry point.

Subcommands that read params take ``--params params.yaml``, optionally laid under a profile
(``--profile profiles/paper.yaml``); their own flags override single values for one run.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from streampro import __version__, steps
from streampro.config import DEFAULT_PARAMS, ConfigError, load_params
from streampro.schema import RecordError
from streampro.steptable import Arg, Step

GROUPS = {"bench": ("StreamPro-Bench: run policies, score predictions",
                    "StreamPro-Bench. `bench run` replays bench trajectories to one policy; `bench score` scores a "
                    "predictions file with StreamPro-F1; `bench all` does both for every policy in params.yaml "
                    "bench.policies and writes a comparison table.")}


def _add_arg(parser: argparse.ArgumentParser, arg: Arg) -> None:
    if arg.switch:
        parser.add_argument(arg.flag, dest=arg.name, action="store_true", help=arg.help)
        return
    kwargs = {"dest": arg.name, "help": arg.help, "required": arg.required, "default": arg.default, "type": arg.type}
    if arg.many:
        kwargs["nargs"] = "+"
    if arg.choices:
        kwargs["choices"] = arg.choices
    parser.add_argument(arg.flag, **kwargs)


def _add_step(sub, step: Step) -> None:
    parser = sub.add_parser(step.words[-1], help=step.summary, description=step.description)
    parser.set_defaults(step=step.name)
    if step.params:
        parser.add_argument("--params", default=None, help=f"params file (default: {DEFAULT_PARAMS} in the current "
                            "folder, else the packaged defaults, which are the same values)")
        parser.add_argument("--profile", default=None, help="a partial params file laid over --params, "
                            "e.g. profiles/paper.yaml for the paper's settings")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    for arg in step.args:
        if arg.name != step.extra_args:
            _add_arg(parser, arg)


def build_parser(table: dict[str, Step] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streampro",
        description="StreamPro: proactive streaming video assistants. Each subcommand is one step of the "
        "pipeline or a helper (see `streampro steps`); those that need settings read them from params.yaml.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for step in (table or steps.STEPS).values():
        if len(step.words) == 1:
            _add_step(sub, step)
            continue
        group = step.words[0]
        if group not in groups:
            summary, description = GROUPS.get(group, (group, group))
            groups[group] = sub.add_parser(group, help=summary, description=description).add_subparsers(
                dest=f"{group}_command", required=True, metavar="SUBCOMMAND")
        _add_step(groups[group], step)
    return parser


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose + 1, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def parse_command(argv: list[str] | None, table: dict[str, Step] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """The arguments of one command line, and the flags handed on (only a step with ``extra_args`` takes them)."""
    table = table or steps.STEPS
    parser = build_parser(table)
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "step", None) is None:  # plain `streampro` (or a group without its subcommand): the help
        parser.print_help()
        raise SystemExit(0 if not extra and args.command is None else 2)
    if extra and not table[args.step].extra_args:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args, extra


def record_time(step: Step, kwargs: dict, seconds: float) -> None:
    """With STREAMPRO_TIMINGS=FILE (``make run`` sets it), add ``{OUT: seconds}`` of this run to FILE (JSON): the
    README's step times come from there."""
    path = os.environ.get("STREAMPRO_TIMINGS")
    if not path or not kwargs.get("out") or os.environ.get("RANK", "0") != "0":
        return
    times = json.loads(open(path).read()) if os.path.exists(path) else {}
    times[str(kwargs["out"])] = round(seconds, 1)
    with open(path, "w") as f:
        f.write(json.dumps(times, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None, table: dict[str, Step] | None = None) -> int:
    table = table or steps.STEPS
    args, extra = parse_command(argv, table)
    step = table[args.step]
    _setup_logging(args.verbose)
    kwargs = {a.name: getattr(args, a.name) for a in step.args if a.name != step.extra_args}
    if step.extra_args:
        kwargs[step.extra_args] = extra
    try:
        started = time.perf_counter()
        if step.params:
            result = step.entry(load_params(args.params, args.profile), **kwargs)
        else:
            result = step.entry(**kwargs)
        record_time(step, kwargs, time.perf_counter() - started)
    except (ConfigError, RecordError, FileNotFoundError, ValueError) as exc:
        print(f"{step.cli}: error: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 speaks for the run
        return 0
    shown = step.show(result) if step.show else result
    if shown is not None:
        print(json.dumps(shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
