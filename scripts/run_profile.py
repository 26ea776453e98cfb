"""Run the DAG of dvc.yaml under a profile, into folders of its own (`make learn`).

    python scripts/run_profile.py profiles/learn.yaml --name learn

Each stage's command (the same `streampro` command `dvc repro` runs) is run with `--profile PROFILE`
laid over params.yaml, its `data/` and `reports/` paths moved under `data/NAME/` and `reports/NAME/`,
so the default DAG's results are left alone. As `dvc repro` does, a stage is skipped only when its outputs
are all complete (their completion marker) and nothing it depends on changed since it ran: its command, the
values of its `params` (params.yaml with the profile laid over it), the content of its code deps, and the
stages whose outputs it reads (a stamp per stage in `data/NAME/stages.json`); SFT and GRPO resume from their
checkpoints, so a stopped run picks up where it was (`rm -rf data/NAME` starts afresh). Stages in --skip (default: ingest, the own-data example) are left out.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time

import yaml

from streampro.config import load_params
from streampro.outputs import MARKER  # a step's completion marker


def moved(word: str, name: str) -> str:
    """``data/x`` → ``data/NAME/x`` (and ``reports/``), also after a policy's ``model:``."""
    head, sep, path = word.rpartition(":") if word.startswith("model:") else ("", "", word)
    for top in ("data", "reports"):
        if path == top or path.startswith(top + "/"):
            return f"{head}{sep}{top}/{name}{path[len(top):]}"
    return word


def dep_hash(path: str) -> str:
    """Content hash of a file or folder (``-`` when missing)."""
    if not os.path.exists(path):
        return "-"
    digest = hashlib.sha256()
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs)
    for f in files:
        digest.update(os.path.relpath(f, path).encode() + b"\0")
        with open(f, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:16]


def param_values(params: dict, keys: list) -> dict:
    """The values of a stage's ``params`` entries (dotted keys) in the effective params."""
    values = {}
    for key in keys:
        key = next(iter(key)) if isinstance(key, dict) else key
        node = params
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        values[key] = node
    return values


def stage_stamps(dvc_file: str, commands: list[tuple[str, list[str], list[str]]], profile: str, name: str
                 ) -> dict[str, str]:
    """Per stage of ``commands`` (from :func:`stage_commands`), a hash of what its result depends on: command,
    params values, code deps' content and, for a dep that is (under) an earlier stage's output, that stage's
    stamp (so a change flows downstream)."""
    stages = yaml.safe_load(open(dvc_file))["stages"]
    params = load_params("params.yaml", profile).model_dump(mode="json")
    outs_of: dict[str, str] = {}
    stamps: dict[str, str] = {}
    for stage, words, outs in commands:
        deps = {}
        for dep in stages[stage].get("deps", []):
            dep = moved(dep, name)
            owner = next((s for o, s in outs_of.items() if dep == o or dep.startswith(o + "/") or o.startswith(dep + "/")), None)
            deps[dep] = f"stage:{stamps[owner]}" if owner else dep_hash(dep)
        blob = [words, param_values(params, stages[stage].get("params", [])), deps]
        stamps[stage] = hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]
        outs_of.update({o: stage for o in outs})
    return stamps


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
    record = f"data/{name}/stages.json"
    done = json.load(open(record)) if os.path.exists(record) else {}
    commands = stage_commands(args.dvc_file, args.profile, name, set(args.skip))
    stamps = stage_stamps(args.dvc_file, commands, args.profile, name)
    for stage, words, outs in commands:
        complete = outs and all(os.path.exists(os.path.join(o, MARKER)) for o in outs)
        if complete and done.get(stage) == stamps[stage]:
            print(f"[{name}] {stage}: complete and current, kept", flush=True)
            continue
        why = "changed since it ran" if complete else "not complete"
        print(f"[{name}] {stage} ({why}): {shlex.join(words)}", flush=True)
        if subprocess.call(words, env=env) != 0:
            print(f"[{name}] {stage} failed; re-run to resume", file=sys.stderr)
            return 1
        done[stage] = stamps[stage]
        os.makedirs(os.path.dirname(record), exist_ok=True)
        with open(record, "w") as f:
            json.dump(done, f, indent=1)
    print(f"[{name}] done in {time.time() - start:.0f} s: reports/{name}/report.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
