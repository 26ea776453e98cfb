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
    assert set(metrics) == {"silent", "every-turn", "random", "oracle", "model-sft", "model-grpo"}
    for policy in ("model-sft", "model-grpo"):  # both trained models were played and scored on every task
        assert 0 <= metrics[policy]["overall_w_avg"] <= 100
        assert {f"{t}_f1" for t in ("EU", "OU", "AA", "TP", "TG", "GP", "RF")} <= set(metrics[policy])
    grpo_log = json.loads((copy / "reports" / "grpo_log.json").read_text())
    assert grpo_log and {"reward", "fmt", "turn", "traj"} <= set(grpo_log[-1])
    shown = _run(["dvc", "metrics", "show", "--json"], copy, env)
    assert "overall_w_avg" in shown
    _run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], copy, env)
    assert (tmp_path / "plots" / "index.html").exists()
    assert "Stage 'synth' didn't change" in _run(["dvc", "repro"], copy, env)  # a second repro has nothing to do
