"""Shared fixtures: a small synthetic world rendered once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest

from streampro.config import SplitSizes, SynthParams
from streampro.synth.world import synthesize

REPO = Path(__file__).resolve().parent.parent
TINY_SYNTH = SynthParams(videos=SplitSizes(sft=7, rl=2, bench=14))


@pytest.fixture(scope="session")
def synth_world(tmp_path_factory) -> Path:
    """Every task twice in the bench split, once in sft: real MP4 files, manifest and items."""
    out = tmp_path_factory.mktemp("world")
    synthesize(str(out), TINY_SYNTH, seed=7, workers=2)
    return out
