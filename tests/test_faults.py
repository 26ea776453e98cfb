"""Killed runs and half-written outputs: a step owns its output folder, writes it atomically with a
completion marker, consumers refuse what is incomplete, and a killed run re-run equals an
uninterrupted one.

Each kill is a SIGKILL at a fixed, logged point: when the first file of a named kind appears in the
step's partial output (a shard, a policy's predictions, a checkpoint).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from streampro.bench.report import collect_metrics
from streampro.data.parquet import read_trajectories
from streampro.outputs import IncompleteOutput
from tests.conftest import NO_CURRICULUM, REPO

BIN = Path(sys.executable).parent


def _params(tmp_path, **sections):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["sft"].update(NO_CURRICULUM)
    for name, values in sections.items():
        data[name].update(values)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _run(*args):
    run = subprocess.run([str(BIN / "streampro"), *args], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def _kill_when(args, pattern: str, root: Path):
    """Start ``streampro ARGS``, SIGKILL it as soon as ``root`` holds a file matching ``pattern``."""
    proc = subprocess.Popen([str(BIN / "streampro"), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        hits = list(root.glob(pattern)) if root.exists() else []
        if hits:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print(f"killed {args[0]} at {hits[0]}")  # the logged point
            return hits[0]
        assert proc.poll() is None, f"{args[0]} ended before it could be killed at {pattern}"
        time.sleep(0.01)
    raise AssertionError(f"{pattern} never appeared under {root}")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_killed_slice_and_bench_rerun_to_the_same_bytes(synth_world, tmp_path):
    params = _params(tmp_path)
    manifest = str(synth_world / "manifest.jsonl")
    _run("slice", "--params", params, "--manifest", manifest, "--out", str(tmp_path / "a"))
    (tmp_path / "b" / "sft").mkdir(parents=True)
    (tmp_path / "b" / "sft" / "part-stale.parquet").write_bytes(b"an old run's shard")  # must not survive
    _kill_when(["slice", "--params", params, "--manifest", manifest, "--out", str(tmp_path / "b")],
               "**/*.parquet", tmp_path / "b.partial")
    assert not (tmp_path / "b").exists()  # the killed run left no output a consumer could take
    with pytest.raises(IncompleteOutput, match="does not exist: run `streampro slice` first"):
        list(read_trajectories(str(tmp_path / "b" / "sft")))
    _run("slice", "--params", params, "--manifest", manifest, "--out", str(tmp_path / "b"))
    assert _files(tmp_path / "a") == _files(tmp_path / "b") and not (tmp_path / "b.partial").exists()
    marker = json.loads((tmp_path / "b" / "_COMPLETE.json").read_text())
    assert marker["step"] == "slice" and marker["counts"]["trajectories_written"] == 23 and marker["fingerprint"]

    bench = ["bench", "all", "--params", params, "--trajectories", str(tmp_path / "b" / "bench"), "--items",
             str(synth_world / "items" / "bench.jsonl"), "--train-items", str(synth_world / "items" / "sft.jsonl"),
             "--policies", "oracle", "random", "every-turn"]
    _run(*bench, "--out", str(tmp_path / "x"))
    _kill_when([*bench, "--out", str(tmp_path / "y")], "oracle/metrics.json", tmp_path / "y.partial")
    with pytest.raises(IncompleteOutput, match="run `streampro bench` first"):
        collect_metrics([str(tmp_path / "y")])
    _run(*bench, "--out", str(tmp_path / "y"))
    assert _files(tmp_path / "x") == _files(tmp_path / "y")


def test_an_output_without_its_marker_is_refused(sliced_world, tmp_path):
    import shutil

    copy = tmp_path / "sliced"
    shutil.copytree(sliced_world, copy)
    (copy / "_COMPLETE.json").unlink()
    with pytest.raises(IncompleteOutput, match="not a complete output of `streampro slice` .*: re-run slice"):
        list(read_trajectories(str(copy / "rl")))


def test_a_slice_that_failed_on_dead_letters_keeps_them_but_is_not_complete(tmp_path):
    from streampro.config import SliceParams
    from streampro.data.slicing import TooManyDeadLetters, run_slice

    (tmp_path / "manifest.jsonl").write_text(json.dumps({"video_id": "v", "uri": "missing.mp4"}) + "\n")
    item = {"item_id": "i", "video_id": "v", "split": "sft", "task": "OU", "dimension": "PU", "question": "q",
            "query_time": 0, "answers": [{"text": "a", "time": 1}]}
    (tmp_path / "items.jsonl").write_text(json.dumps(item) + "\n")
    with pytest.raises(TooManyDeadLetters):
        run_slice(str(tmp_path / "manifest.jsonl"), str(tmp_path / "out"), SliceParams(),
                  item_files=[str(tmp_path / "items.jsonl")])
    assert list((tmp_path / "out" / "dead_letters").glob("*.jsonl")) and not (tmp_path / "out" / "_COMPLETE.json").exists()
    with pytest.raises(IncompleteOutput, match="re-run slice"):
        list(read_trajectories(str(tmp_path / "out" / "sft")))


@pytest.mark.slow
def test_killed_grpo_resumes_to_the_same_weights(synth_world, sliced_world, tmp_path):
    from safetensors.torch import load_file

    params = _params(tmp_path, sft={"batch_size": 2, "save_steps": 1000}, model={"max_new_tokens": 6},
                     grpo={"num_generations": 2, "save_steps": 1, "learning_rate": 0.001})
    _run("sft", "--params", params, "--trajectories", str(sliced_world / "sft"), "--out", str(tmp_path / "sft"),
         "--max-steps", "4")
    grpo = ["grpo", "--params", params, "--model", str(tmp_path / "sft"), "--trajectories", str(sliced_world / "rl"),
            "--items", str(synth_world / "items" / "rl.jsonl"), "--max-steps", "3"]
    _run(*grpo, "--out", str(tmp_path / "a"))
    _kill_when([*grpo, "--out", str(tmp_path / "b")], "checkpoints/checkpoint-1/trainer_state.json",
               tmp_path / "b.partial")
    resumed = json.loads(_run(*grpo, "--out", str(tmp_path / "b")).stdout.strip().splitlines()[-1])
    assert resumed["resumed_from"] and resumed["global_step"] == 3
    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
