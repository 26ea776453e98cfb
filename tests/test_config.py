from pathlib import Path

import pytest

from streampro.config import ConfigError, load_params
from tests.conftest import REPO


def test_params_yaml_is_the_embedded_default():
    params = load_params(REPO / "params.yaml")
    assert params.grpo.num_generations == 4
    assert params.synth.max_duration <= 30  # streams of at most ~30 turns at 1 fps
    assert params.sft.loss == "cb_stream"


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
