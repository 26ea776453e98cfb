from pathlib import Path

import pytest

from streampro.config import ConfigError, load_params
from tests.conftest import REPO


def test_params_yaml_is_the_embedded_default():
    """params.yaml is what every edge runs by default, and it runs offline on a CPU: a model built
    locally, the rule judge, a world of tens of short videos."""
    import sys

    import yaml

    from streampro.config import DEFAULT_PARAMS, params_from_dict

    params = load_params(REPO / "params.yaml")
    assert DEFAULT_PARAMS == "params.yaml"  # the CLI's default, read from the folder dvc runs in
    sys.path.insert(0, str(REPO))
    from pipelines.dag import DEFAULT_PARAMS as PIPELINE_DEFAULT

    assert params_from_dict(PIPELINE_DEFAULT) == params  # the Kubeflow pipeline's default
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for stage, spec in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        for key in spec.get("params", []):  # every dvc stage tracks settings that exist there
            node = raw
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"dvc stage {stage}: params.yaml has no {key}"
                node = node[part]
    assert params.model.name_or_path == "tiny" and params.bench.judge == "rule" and params.bench.judge_url is None
    from streampro.config import Params

    assert Params() == params  # the packaged defaults a run outside the repo uses are the same values
    # sized for minutes on 2 CPU cores: short videos at a low frame rate, a bench of 10 items per task
    assert sum(params.synth.videos.as_dict().values()) <= 1000 and params.synth.max_duration <= 30
    assert params.synth.fps <= 2 and params.synth.videos.bench >= 10 * len(params.synth.tasks)


def test_paper_profile_carries_the_papers_values():
    params = load_params(REPO / "params.yaml", REPO / "profiles" / "paper.yaml")
    assert params.sft.beta == 0.9999
    assert params.sft.lambda_text == 2.0
    assert params.grpo.num_generations == 8
    assert params.grpo.tau == 8.0
    assert params.model.window_turns == 200
    assert params.sft.learning_rate == 1e-5
    assert params.grpo.learning_rate == 1e-6
    assert (params.grpo.reward_weights.fmt, params.grpo.reward_weights.turn, params.grpo.reward_weights.traj) == (
        0.1, 0.45, 0.45)
    # a pretrained checkpoint already copies the question's object: no copy phases before its SFT
    assert params.sft.curriculum == []
    # values the profile does not touch come from params.yaml
    assert params.synth == load_params(REPO / "params.yaml").synth


def test_unknown_key_names_file_and_field(tmp_path: Path):
    bad = tmp_path / "params.yaml"
    bad.write_text("sft:\n  lose: ce\n")
    with pytest.raises(ConfigError, match=r"params.yaml: field 'sft.lose'"):
        load_params(bad)


def test_wrong_type_names_field(tmp_path: Path):
    bad = tmp_path / "params.yaml"
    bad.write_text("grpo:\n  num_generations: many\n")
    with pytest.raises(ConfigError, match=r"field 'grpo.num_generations'"):
        load_params(bad)


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text, message", [
    ("sft:\n  loss: ce\nsft:\n  max_steps: 3\n", "duplicate key 'sft' (first given on line 1)"),
    ("sft:\n  loss: ce\n  loss: focal\n", "duplicate key 'loss' (first given on line 2)"),
    ("sft:\n  learning_rate: .inf\n", "field 'sft.learning_rate'"),
    ("grpo:\n  reward_weights: {fmt: .nan}\n", "field 'grpo.reward_weights.fmt'"),
    ("sft:\n  max_steps: true\n", "field 'sft.max_steps': Value error, expected a number, got the boolean true"),
    ("slice:\n  sample_fps: .inf\n", "field 'slice.sample_fps'"),
    ("sft:\n  curriculum: [{tasks: [OU], cut: long, steps: 5}]\n", "field 'sft.curriculum.0.cut'"),
    ("sft:\n  curriculum: [{tasks: [OU], cut: short, steps: 0}]\n", "field 'sft.curriculum.0.steps'"),
])
def test_settings_that_would_silently_mislead_are_errors(tmp_path: Path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_params(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_a_curriculum_phase_may_train_on_whole_windows(tmp_path: Path):
    profile = tmp_path / "look.yaml"
    profile.write_text("sft:\n  curriculum: [{tasks: [AA], cut: full, steps: 300}]\n")
    (phase,) = load_params(REPO / "params.yaml", profile).sft.curriculum
    assert (phase.tasks, phase.cut, phase.steps) == (["AA"], "full", 300)
