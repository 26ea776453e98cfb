import json
import subprocess
import sys

import pytest
import yaml

from streampro import steps
from streampro.cli import build_parser, main
from tests.conftest import REPO


def _subcommands():
    parser = build_parser()
    return list(parser._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("command", ["--help"] + [f"{c} --help" for c in ["steps", "synth"]])
def test_help_explains(command, capsys):
    with pytest.raises(SystemExit) as info:
        main(command.split())
    assert info.value.code == 0
    assert "usage: streampro" in capsys.readouterr().out


def test_every_step_has_a_subcommand():
    assert set(steps.STEPS) <= set(_subcommands())


def test_synth_cli_end_to_end(tmp_path):
    out = tmp_path / "world"
    run = subprocess.run(
        [sys.executable, "-m", "streampro.cli", "synth", "--out", str(out), "--videos", "1", "--seed", "4",
         "--params", str(REPO / "params.yaml")],
        capture_output=True, text=True, check=True,
    )
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["items"] == {"sft": 1, "rl": 1, "bench": 1}
    assert len(list((out / "videos").glob("*.mp4"))) == 3


def test_bad_params_exit_2_with_the_field(tmp_path, capsys):
    bad = tmp_path / "params.yaml"
    bad.write_text("synth:\n  fps: fast\n")
    assert main(["synth", "--out", str(tmp_path / "o"), "--params", str(bad)]) == 2
    assert "field 'synth.fps'" in capsys.readouterr().err


def test_step_table_matches_docs_and_dvc():
    docs = (REPO / "docs" / "steps.md").read_text()
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for step in steps.STEPS.values():
        assert f"| {step.name} |" in docs, f"docs/steps.md lacks step {step.name}"
        assert f"`streampro.steps.{step.entry.__name__}`" in docs
        if step.dvc_stage:
            assert step.dvc_stage in dvc, f"dvc.yaml lacks stage {step.dvc_stage}"
            assert dvc[step.dvc_stage]["cmd"].startswith(step.cli)
