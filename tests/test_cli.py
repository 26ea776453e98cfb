"""The step table drives the CLI, is checked against dvc.yaml, and makes the KFP pipeline."""
import inspect
import json
import subprocess
import sys

import pytest
import yaml

from streampro import steps
from streampro.cli import build_parser, main, parse_command
from streampro.steptable import Arg, Dag, In, Out, Step, Task, dvc_problems, table_markdown
from tests.conftest import REPO

sys.path.insert(0, str(REPO))  # components/ and pipelines/ are top-level folders of the repo


def _stages():
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _parse(table=None):
    return lambda argv: parse_command(argv, table)[0]


@pytest.mark.parametrize("words", [()] + [s.words for s in steps.STEPS.values()], ids=lambda w: " ".join(w) or "-")
def test_help_explains_every_command_and_option(words, capsys):
    with pytest.raises(SystemExit) as info:
        main([*words, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(('streampro', *words))}")
    if words:
        step = next(s for s in steps.STEPS.values() if s.words == words)
        assert " ".join(step.description.split()[:4]) in " ".join(out.split())
        parser = build_parser()
        for word in words:  # down to the step's own parser
            parser = parser._subparsers._group_actions[0].choices[word]
        for action in parser._actions:
            assert action.help, f"{' '.join(words)}: option {action.option_strings} has no help text"


def test_every_entry_takes_exactly_the_tables_arguments():
    for step in steps.STEPS.values():
        names = list(inspect.signature(step.entry).parameters)
        expected = (["params"] if step.params else []) + [a.name for a in step.args]
        assert names == expected, f"{step.name}: entry {names} vs table {expected}"
        for arg in step.args:
            assert arg.type in (str, int, float, bool), f"{step.name}.{arg.name}: untyped"


def test_dvc_yaml_agrees_with_the_step_table():
    assert dvc_problems(steps.STEPS, _stages(), _parse()) == []


def test_dvc_check_catches_a_stage_that_drifted():
    stages = _stages()
    stages["sft"] = {**stages["sft"], "cmd": stages["sft"]["cmd"] + " --learning-rate 1"}  # no such flag
    stages["grpo"] = {**stages["grpo"], "cmd": "streampro sft --trajectories a --out b"}  # another step
    del stages["bench_sft"]
    stages["extra"] = {"cmd": "echo hi"}
    problems = dvc_problems(steps.STEPS, stages, _parse())
    assert problems == [
        "stage 'sft': `streampro sft` rejects the cmd "
        f"{stages['sft']['cmd']!r}",
        "stage 'grpo': cmd runs 'sft', not step 'grpo'",
        "dvc.yaml has no stage 'bench_sft' (a task of step 'bench')",
        "dvc.yaml stage 'extra' is no task of any step in the step table",
    ]


def test_docs_show_the_step_table():
    assert table_markdown(steps.STEPS) in (REPO / "docs" / "steps.md").read_text(), \
        "docs/steps.md is stale: paste `streampro steps --markdown` into it"


def _dummy(params, trajectories: str, out: str, level: int = 1) -> dict:
    return {"level": level}


DUMMY = Step("dummy", "a dummy step added by a test", "Does nothing; shows the table drives every edge.", _dummy,
             (Arg("trajectories", "trajectories", required=True, dag=In("trajectories", "sft")),
              Arg("out", "output", required=True, dag=Out("dummy_out")),
              Arg("level", "a level", int, default=1, kfp_param=True)),
             dag=Dag((Task("dummy", {"trajectories": "slice.trajectories"}, {"level": 3}),)))


def test_a_new_step_reaches_the_cli_the_dvc_check_and_the_pipeline(tmp_path, capsys):
    table = {**steps.STEPS, "dummy": DUMMY}
    with pytest.raises(SystemExit):
        main(["--help"], table=table)
    assert "dummy" in capsys.readouterr().out
    assert main(["dummy", "--trajectories", "t", "--out", "o", "--level", "2"], table=table) == 0
    assert json.loads(capsys.readouterr().out) == {"level": 2}
    assert dvc_problems(table, _stages(), _parse(table)) == ["dvc.yaml has no stage 'dummy' (a task of step 'dummy')"]

    from kfp import compiler, dsl

    from pipelines.dag import DEFAULT_PARAMS, assemble

    @dsl.pipeline(name="with-dummy")
    def with_dummy(seed: int = 0):
        assemble({**DEFAULT_PARAMS, "seed": seed}, world="synth", table=table)

    compiler.Compiler().compile(with_dummy, str(tmp_path / "p.yaml"))
    ir = next(yaml.safe_load_all((tmp_path / "p.yaml").read_text()))
    task = ir["root"]["dag"]["tasks"]["dummy"]
    assert task["dependentTasks"] == ["slice"]
    assert task["inputs"]["parameters"]["level"]["runtimeValue"]["constant"] == 3
    assert "run_task('dummy', dict(), dict(" in str(ir["deploymentSpec"]["executors"]["exec-dummy"])


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


def test_unknown_flags_reach_beam_and_only_for_slice(tmp_path, monkeypatch, capsys):

    from streampro.data import slicing

    seen = {}

    class Stop(Exception):
        pass

    def pipeline(options):
        seen.update(options.get_all_options())
        raise Stop

    monkeypatch.setattr(slicing.beam, "Pipeline", pipeline)
    (tmp_path / "m.jsonl").write_text("")
    (tmp_path / "i.jsonl").write_text("")
    with pytest.raises(Stop):
        main(["slice", "--manifest", str(tmp_path / "m.jsonl"), "--items", str(tmp_path / "i.jsonl"), "--out",
              str(tmp_path / "o"), "--direct_num_workers", "3", "--job_name", "flag-check"])
    assert seen["direct_num_workers"] == 3 and seen["job_name"] == "flag-check"
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path / "w"), "--job_name", "x"])
    assert "unrecognized arguments: --job_name x" in capsys.readouterr().err


def test_ingest_takes_one_file_per_split(tmp_path):
    from streampro import storage

    raw = str(REPO / "examples" / "streamo" / "annotations.json")
    assert steps.split_annotations([f"sft={raw}", raw], "bench") == {"sft": raw, "bench": raw}
    with pytest.raises(ValueError, match="two annotation files for split 'sft'"):
        steps.split_annotations([f"sft={raw}", raw], "sft")
    assert main(["ingest", "--annotations", f"sft={raw}", f"bench={raw}", "--out", str(tmp_path / "w")]) == 0
    assert {i.split for i in storage.read_items(str(tmp_path / "w" / "items" / "bench.jsonl"))} == {"bench"}
    assert len(storage.read_items(str(tmp_path / "w" / "items" / "sft.jsonl"))) == 3


def test_stream_with_a_missing_model_fails_at_once_naming_it(tmp_path, capsys):
    assert main(["stream", "--model", str(tmp_path / "no-model"), "--video", str(tmp_path / "no-video.mp4"),
                 "--question", "what?"]) == 2
    err = capsys.readouterr().err
    assert "cannot load the model" in err and "no-model" in err and "no-video" not in err  # before any decoding


def test_stream_runs_from_any_folder_and_prints_plain_responses(tiny_model, synth_world, tmp_path, monkeypatch, capsys):
    import re

    monkeypatch.chdir(tmp_path)  # no params.yaml here: the packaged defaults
    video = next((synth_world / "videos").glob("*.mp4"))
    assert main(["stream", "--model", str(tiny_model), "--video", str(video), "--question", "what moves?",
                 "--show-silence"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(re.fullmatch(r"\[\d+s\] .+", line) for line in lines)
    assert not any("</Response>" in line or "</Silence>" in line for line in lines)


def test_plain_streampro_shows_help_and_the_version(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 0 and "usage: streampro" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("streampro ")
