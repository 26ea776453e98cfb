"""`dvc repro` of the whole DAG on the tiny `ci` configuration, in a temporary copy of the repo."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from streampro.config import deep_merge
from tests.conftest import REPO


def _run(cmd, cwd, env):
    run = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"{' '.join(cmd)}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run.stdout


@pytest.mark.slow
def test_dvc_repro_on_the_ci_configuration(tmp_path):
    copy = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        src = REPO / name
        if src.is_file() and not name.startswith(("data/", "reports/")) and name != "dvc.lock":
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / name)
    params = deep_merge(yaml.safe_load((REPO / "params.yaml").read_text()),
                        yaml.safe_load((REPO / "profiles" / "ci.yaml").read_text()))
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-qm", "ci copy"]):
        _run(cmd, copy, env)
    _run(["dvc", "repro"], copy, env)
    metrics = json.loads((copy / "reports" / "metrics.json").read_text())
    assert metrics["oracle"]["overall_w_avg"] == 100 and metrics["silent"]["overall_w_avg"] == 0
    assert set(metrics) == {"silent", "every-turn", "random", "prior", "oracle", "model-sft", "model-grpo"}
    per_task = json.loads((copy / "reports" / "per_task_f1.json").read_text())
    for policy in ("model-sft", "model-grpo"):  # both trained models were played and scored on every task
        assert 0 <= metrics[policy]["overall_w_avg"] <= 100
        assert set(metrics[policy]) == {"overall_w_avg", "PU_f1", "TR_f1", "PA_f1"}
        assert {row["task"] for row in per_task if row.get(policy) is not None} == {"EU", "OU", "AA", "TP", "TG", "GP", "RF"}
    # training metrics through DVCLive: a .tsv per metric for dvc plots, the last values for metrics/exp show
    reward = (copy / "reports" / "grpo" / "plots" / "metrics" / "reward.tsv").read_text().splitlines()
    assert reward[0] == "step\treward" and len(reward) == 3  # grpo.max_steps 2 of profiles/ci.yaml
    loss = (copy / "reports" / "sft" / "plots" / "metrics" / "heldout_loss.tsv").read_text().splitlines()
    assert loss[0] == "step\theldout_loss" and [int(r.split("\t")[0]) for r in loss[1:]] == [2, 4, 6]
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], copy, env))
    files = next(iter(shown.values()))["data"]
    assert "overall_w_avg" in json.dumps(files["reports/metrics.json"])
    assert {"loss", "heldout_loss", "p_response_right", "step"} <= set(files["reports/sft/metrics.json"]["data"])
    assert {"reward", "fmt", "turn", "traj"} <= set(files["reports/grpo/metrics.json"]["data"])
    exp = _run(["dvc", "exp", "show", "--csv"], copy, env).splitlines()[0].split(",")
    assert {"heldout_loss", "reward"} <= set(exp)  # the training metrics are columns of dvc exp show
    _run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], copy, env)
    assert (tmp_path / "plots" / "index.html").exists()
    assert "Stage 'synth' didn't change" in _run(["dvc", "repro"], copy, env)  # a second repro has nothing to do


def test_every_stage_lists_the_code_it_runs():
    from streampro.steps import STEPS
    from streampro.steptable import code_deps

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for step in STEPS.values():
        for task in step.dag.tasks if step.dag else ():
            listed = {d for d in stages[task.name]["deps"] if d.startswith("streampro")}
            assert listed == set(code_deps(step)), (
                f"dvc.yaml stage {task.name}: add {sorted(set(code_deps(step)) - listed)}, "
                f"remove {sorted(listed - set(code_deps(step)))} (streampro.steptable.code_deps)")


def test_dvc_status_marks_exactly_the_stages_that_run_an_edited_module(tmp_path):
    from streampro.steps import STEPS
    from streampro.steptable import code_deps

    copy = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    _run(["git", "init", "-q"], copy, env)

    def modified_by(module):
        status = json.loads(_run(["dvc", "status", "--json"], copy, env) or "{}")
        return {stage for stage, changes in status.items() for change in changes
                if isinstance(change, dict) and change.get("changed deps", {}).get(module) == "modified"}

    module = "streampro/bench/metric.py"
    assert modified_by(module) == set()  # dvc.lock is current with the code
    with open(copy / module, "a") as f:
        f.write("\n# edited\n")
    runs_it = {t.name for s in STEPS.values() if s.dag and module in code_deps(s) for t in s.dag.tasks}
    assert modified_by(module) == runs_it == {"rubrics", "grpo", "bench", "bench_sft", "bench_grpo"}


def test_the_per_task_chart_has_the_tasks_as_categories_and_a_bar_per_policy():
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    plots = json.loads(_run(["dvc", "plots", "show", "--json"], REPO, env))["data"]
    chart = plots["StreamPro-Bench F1 per task"][0]["content"]
    assert chart["encoding"]["x"] == {"field": "task", "type": "nominal", "title": "task"}
    assert chart["encoding"]["y"]["type"] == "quantitative" and chart["encoding"]["xOffset"]["field"] == "field"
    rows = chart["data"]["values"]
    tasks = {r["task"] for r in json.loads((REPO / "reports" / "per_task_f1.json").read_text())}
    policies = set(json.loads((REPO / "reports" / "metrics.json").read_text()))
    assert sorted((r["task"], r["field"]) for r in rows) == sorted((t, p) for t in tasks for p in policies)
    assert any(r["dvc_inferred_y_value"] > 0 for r in rows if r["field"] != "oracle")  # bars with data
    assert "reports/per_task_f1.json" not in plots  # no line over "step" for it


def test_dvc_metrics_show_is_readable(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], REPO, env))
    files = next(iter(shown.values()))["data"]  # the workspace: every metrics file of dvc.yaml
    columns = set()
    for path, shown_file in files.items():
        data = shown_file["data"]
        nested = all(isinstance(v, dict) for v in data.values())
        columns |= {f"{k}.{c}" for k, m in data.items() for c in m} if nested else set(data)
    assert {"reports/metrics.json", "reports/sft/metrics.json", "reports/grpo/metrics.json"} <= set(files)
    assert len(columns) <= 40, sorted(columns)  # dvc metrics show: one row per file, at most 40 columns in all


def test_the_readme_results_are_rendered_from_the_metrics_file():
    from streampro.bench.report import RESULTS_END, RESULTS_START, results_block

    readme = (REPO / "README.md").read_text()
    shown = readme[readme.index(RESULTS_START):readme.index(RESULTS_END) + len(RESULTS_END)]
    optional = [REPO / "reports" / "learn" / "metrics.json", REPO / "reports" / "ablation.json"]
    learn, ablation = (json.loads(p.read_text()) if p.exists() else None for p in optional)
    assert shown == results_block(json.loads((REPO / "reports" / "metrics.json").read_text()), learn, ablation), \
        "README's results are stale: make run (make learn, make ablate) renders them"
    rows = [line.split(" | ")[0].strip("| ") for line in shown.splitlines()[3:-1]]
    assert rows[:5] == ["silent", "every-turn", "random", "prior", "oracle"] and "model-grpo" in rows
