"""Shared fixtures: a small synthetic world rendered once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest

from streampro.config import SplitSizes, SynthParams
from streampro.synth.world import synthesize

REPO = Path(__file__).resolve().parent.parent
TINY_SYNTH = SynthParams(videos=SplitSizes(sft=7, rl=2, bench=14))
# params.yaml's copy curriculum (1,400 steps before SFT) turned off, for the tests that train a few SFT steps
NO_CURRICULUM = {"curriculum": []}


@pytest.fixture(scope="session")
def synth_world(tmp_path_factory) -> Path:
    """Every task twice in the bench split, once in sft: real MP4 files, manifest and items."""
    out = tmp_path_factory.mktemp("world")
    synthesize(str(out), TINY_SYNTH, seed=7, workers=2)
    return out


@pytest.fixture(scope="session")
def sliced_world(synth_world, tmp_path_factory) -> Path:
    """The tiny world sliced at the embedded default's settings (56 px frames, 1 fps)."""
    from streampro.config import load_params
    from streampro.data.slicing import run_slice

    out = tmp_path_factory.mktemp("sliced")
    run_slice(str(synth_world / "manifest.jsonl"), str(out), load_params(REPO / "params.yaml").slice)
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Qwen2.5-VL with random weights and its processor, saved like any checkpoint."""
    from streampro.model.tiny import build_tiny_model

    return Path(build_tiny_model(str(tmp_path_factory.mktemp("tiny"))))
