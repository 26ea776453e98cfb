"""`streampro ablate` on profiles/ci.yaml (one seed), the summary it writes, and `make learn`'s runner."""
from __future__ import annotations

import json
import os
import sys

import pytest

from streampro.ablation import markdown, summarize
from streampro.config import load_params
from tests.conftest import REPO


def _metrics(w: float) -> dict:
    return {"overall_w_avg": w, "overall_avg": w, "PU_f1": w + 1, "TR_f1": w - 1, "PA_f1": w}


def test_the_summary_is_mean_and_std_over_seeds_and_the_paired_gain_of_grpo(tmp_path):
    metrics = {"cb_stream": {0: _metrics(10.0), 1: _metrics(14.0)}, "grpo": {0: _metrics(13.0), 1: _metrics(15.0)}}
    model = tmp_path / "grpo-s0" / "model"
    model.mkdir(parents=True)
    (model / "grpo_rewards.json").write_text(json.dumps([{"reward": r} for r in (0.1, 0.2, 0.3, 0.5)]))
    (model / "grpo_summary.json").write_text(json.dumps({"probe_rewards": [{"step": 0, "reward": 0.4},
                                                                           {"step": 30, "reward": 0.45}]}))
    summary = summarize(metrics, str(tmp_path))
    assert summary["grpo_probe"] == {"before": 0.4, "after": 0.45}
    assert summary["arms"]["cb_stream"]["overall_w_avg"] == {"mean": 12.0, "std": 2.83, "values": [10.0, 14.0]}
    assert summary["grpo_gain"] == {"mean": 2.0, "std": 1.41, "values": [3.0, 1.0]}  # (13-10, 15-14)
    assert summary["grpo_reward"] == {"first_quarter": 0.1, "last_quarter": 0.5}  # seed 1 has no reward log
    text = markdown(summary, load_params(REPO / "params.yaml"))
    assert "| SFT, CB-Stream | 12.0 ± 2.8 | 12.0 ± 2.8 | 13.0 ± 2.8 | 11.0 ± 2.8 | 12.0 ± 2.8 | 16.3 |" in text
    assert "+2.0 ± 1.4" in text


@pytest.mark.slow
def test_ablate_on_the_ci_profile_trains_every_arm_once_and_resumes(sliced_world, synth_world, tmp_path, monkeypatch):
    from streampro import ablation
    from streampro.ablation import run_ablation

    params = load_params(REPO / "params.yaml", REPO / "profiles" / "ci.yaml")
    assert params.ablation.seeds == [0]
    out, report = tmp_path / "ablation", tmp_path / "reports"
    args = (params, str(sliced_world), str(synth_world / "items" / "bench.jsonl"),
            str(synth_world / "items" / "rl.jsonl"), str(out), str(report))
    summary = run_ablation(*args)
    assert list(summary["arms"]) == ["ce", "focal", "cb_stream", "grpo"]
    for arm in ("ce", "focal", "cb_stream"):
        sft = json.loads((out / f"{arm}-s0" / "model" / "sft_summary.json").read_text())
        assert sft["loss"] == arm and sft["global_step"] == params.sft.max_steps
    assert (out / "grpo-s0" / "model" / "grpo_rewards.json").exists()
    assert "grpo_gain" in summary and "grpo_reward" in summary and "grpo_probe" in summary
    text = (report / "ablation.md").read_text()
    assert "SFT (CB-Stream) → GRPO" in text and "16.3" in text
    phases = json.loads((out / "curriculum-s0" / "model" / "curriculum.json").read_text())
    assert [(c["cut"], c["steps"]) for c in phases] == [(c.cut, c.steps) for c in params.sft.curriculum]
    assert all(json.loads((out / f"{arm}-s0" / "model" / "sft_summary.json").read_text())["curriculum"] == []
               for arm in ("ce", "focal", "cb_stream"))  # each SFT arm starts from the seed's curriculum model
    markers = {p: p.stat().st_mtime for p in out.glob("*/*/_COMPLETE.json")}
    assert len(markers) == 9  # 4 arms x (model, bench) and the curriculum
    assert run_ablation(*args) == summary  # a second run keeps every finished arm: nothing retrained
    assert {p: p.stat().st_mtime for p in out.glob("*/*/_COMPLETE.json")} == markers
    # a changed GRPO setting retrains (and re-benches) the GRPO arm only; the SFT arms are kept
    grpo = params.grpo.model_copy(update={"learning_rate": params.grpo.learning_rate * 2})
    run_ablation(params.model_copy(update={"grpo": grpo}), *args[1:])
    now = {p: p.stat().st_mtime for p in out.glob("*/*/_COMPLETE.json")}
    assert sorted(p.parent.parent.name for p in now if now[p] != markers.get(p)) == ["grpo-s0", "grpo-s0"]
    # other bench code (e.g. an edited report module): every arm is scored again, no model is retrained
    code = ablation.step_code
    monkeypatch.setattr(ablation, "step_code", lambda step: code(step) + ("-edited" if step == "bench" else ""))
    run_ablation(params.model_copy(update={"grpo": grpo}), *args[1:])
    again = {p: p.stat().st_mtime for p in out.glob("*/*/_COMPLETE.json")}
    assert sorted(p.parent.name for p in again if again[p] != now[p]) == ["bench"] * 4


def test_an_arm_made_with_other_settings_or_before_stamps_is_cleared(tmp_path):
    from streampro.ablation import keep_or_clear

    arm = tmp_path / "ce-s0"
    (arm / "model").mkdir(parents=True)
    (arm / "model" / "_COMPLETE.json").write_text("{}")  # made before arms were stamped: stale
    keep_or_clear(str(arm), "key-a")
    assert not (arm / "model").exists() and json.loads((arm / "arm.json").read_text()) == {"key": "key-a"}
    (arm / "model").mkdir()
    keep_or_clear(str(arm), "key-a")
    assert (arm / "model").exists()  # same settings: kept
    keep_or_clear(str(arm), "key-b")
    assert not (arm / "model").exists() and json.loads((arm / "arm.json").read_text()) == {"key": "key-b"}


def test_make_learn_runs_the_dvc_stages_under_the_profile_in_their_own_folders():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from run_profile import stage_commands
    finally:
        sys.path.pop(0)
    commands = dict((s, (w, o)) for s, w, o in stage_commands(str(REPO / "dvc.yaml"), "profiles/learn.yaml",
                                                               "learn", {"ingest"}))
    assert "ingest" not in commands and list(commands)[0] == "synth"
    words, outs = commands["sft"]
    assert words[:2] == ["streampro", "sft"] and words[-2:] == ["--profile", "profiles/learn.yaml"]
    assert "data/learn/sliced/sft" in words and "reports/learn/sft" in words and outs == ["data/learn/models/sft"]
    assert "model:data/learn/models/sft" in commands["bench_sft"][0]
    assert commands["report"][0][-3:-2] == ["reports/learn"]  # the report's --out is the folder itself
    assert all(not w.startswith(("data", "reports")) or w.startswith(("data/learn", "reports/learn"))
               for words, _ in commands.values() for w in words)
    assert os.path.exists(REPO / "profiles" / "learn.yaml")


def test_make_learn_reruns_exactly_the_stages_whose_code_params_or_inputs_changed(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from run_profile import main
    finally:
        sys.path.pop(0)
    from streampro.outputs import MARKER
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    (tmp_path / "p.yaml").write_text("sft: {max_steps: 5}\n")
    (tmp_path / "mk.py").write_text(  # a stage: writes its output's marker and logs that it ran
        "import os, sys\nout = sys.argv[1]\nos.makedirs(out, exist_ok=True)\n"
        f"open(os.path.join(out, {MARKER!r}), 'w').write('{{}}')\nopen('ran.log', 'a').write(out + '\\n')\n")
    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "b.py").write_text("B = 1\n")
    py = sys.executable
    (tmp_path / "dvc.yaml").write_text(json.dumps({"stages": {
        "one": {"cmd": f"{py} mk.py data/one", "deps": ["a.py"], "params": ["seed"], "outs": ["data/one"]},
        "two": {"cmd": f"{py} mk.py data/two", "deps": ["data/one", "b.py"], "params": ["sft.max_steps"],
                "outs": ["data/two"]}}}))
    monkeypatch.chdir(tmp_path)

    def ran() -> list[str]:
        log = tmp_path / "ran.log"
        lines = log.read_text().split() if log.exists() else []
        log.unlink(missing_ok=True)
        return lines

    def run() -> list[str]:
        assert main(["p.yaml", "--name", "x", "--skip"]) == 0
        return ran()

    assert run() == ["data/x/one", "data/x/two"]
    assert run() == []  # nothing changed: both kept
    (tmp_path / "b.py").write_text("B = 2\n")
    assert run() == ["data/x/two"]  # its own code
    (tmp_path / "p.yaml").write_text("sft: {max_steps: 6}\n")
    assert run() == ["data/x/two"]  # one of its params, through the profile
    (tmp_path / "a.py").write_text("A = 2\n")
    assert run() == ["data/x/one", "data/x/two"]  # upstream code: the change flows downstream
    (tmp_path / "data" / "x" / "two" / MARKER).unlink()
    assert run() == ["data/x/two"]  # an incomplete output
