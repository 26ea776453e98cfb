"""Run the DAG of dvc.yaml under a profile, into folders of its own (`make learn`).

    python scripts/run_profile.py profiles/learn.yaml --name learn

Each stage's command (the same `streampro` command `dvc repro` runs) is run with `--profile PROFILE`
laid over params.yaml, its `data/` and `reports/` paths moved under `data/NAME/` and `reports/NAME/`,
so the default DAG's results are left alone. A stage whose outputs are all complete (their completion
marker) is skipped, and SFT and GRPO resume from their checkpoints: a stopped run picks up where it
was (`rm -rf data/NAME` starts afresh). Stages in --skip (default: ingest, the own-data example) are left out.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time

import yaml

from streampro.outputs import MARKER  # a step's completion marker


def moved(word: str, name: str) -> str:
    """``data/x`` → ``data/NAME/x`` (and ``reports/``), also after a policy's ``model:``."""
    head, sep, path = word.rpartition(":") if word.startswith("model:") else ("", "", word)
    for top in ("data", "reports"):
        if path == top or path.startswith(top + "/"):
            return f"{head}{sep}{top}/{name}{path[len(top):]}"
    return word


def stage_commands(dvc_file: str, profile: str, name: str, skip: set[str]) -> list[tuple[str, list[str], list[str]]]:
    """(stage, command words, outputs) for every stage of ``dvc_file`` in its order, moved under ``name``."""
    stages = yaml.safe_load(open(dvc_file))["stages"]
    commands = []
    for stage, spec in stages.items():
        if stage in skip:
            continue
        words = [moved(w, name) for w in shlex.split(" ".join(spec["cmd"].split()))]
        outs = [moved(next(iter(o)) if isinstance(o, dict) else o, name) for o in spec.get("outs", [])]
        commands.append((stage, words + ["--profile", profile], outs))
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="a partial params file laid over params.yaml, e.g. profiles/learn.yaml")
    parser.add_argument("--name", help="folder name under data/ and reports/ (default: the profile's name)")
    parser.add_argument("--skip", nargs="*", default=["ingest"], help="stages to leave out (default: ingest)")
    parser.add_argument("--dvc-file", default="dvc.yaml")
    args = parser.parse_args(argv)
    name = args.name or os.path.splitext(os.path.basename(args.profile))[0]
    os.makedirs(f"reports/{name}", exist_ok=True)
    env = {**os.environ, "STREAMPRO_TIMINGS": os.path.abspath(f"reports/{name}/step_times.json")}
    start = time.time()
    for stage, words, outs in stage_commands(args.dvc_file, args.profile, name, set(args.skip)):
        if outs and all(os.path.exists(os.path.join(o, MARKER)) for o in outs):
            print(f"[{name}] {stage}: complete, kept", flush=True)
            continue
        print(f"[{name}] {stage}: {shlex.join(words)}", flush=True)
        if subprocess.call(words, env=env) != 0:
            print(f"[{name}] {stage} failed; re-run to resume", file=sys.stderr)
            return 1
    print(f"[{name}] done in {time.time() - start:.0f} s: reports/{name}/report.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
