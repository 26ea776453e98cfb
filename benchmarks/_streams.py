"""Shared set-up of the model benchmarks: a model (the tiny one unless given) and sliced streams."""
from __future__ import annotations

from pathlib import Path

from streampro.config import SliceParams, SplitSizes, SynthParams
from streampro.data.parquet import read_trajectories
from streampro.data.slicing import run_slice
from streampro.model.tiny import build_tiny_model
from streampro.synth.world import synthesize


def model_and_streams(tmp: str, model: str | None, streams: int, turns: int, tasks: list[str] | None = None):
    """``(model path, [Trajectory])``: ``streams`` synthetic streams of ``turns`` seconds, sliced at 1 fps."""
    model = model or build_tiny_model(str(Path(tmp) / "tiny"))
    world = Path(tmp) / "world"
    synth = SynthParams(videos=SplitSizes(sft=0, rl=0, bench=streams), min_duration=turns, max_duration=turns)
    if tasks:
        synth = synth.model_copy(update={"tasks": tasks})
    synthesize(str(world), synth, seed=0, workers=1)
    run_slice(str(world / "manifest.jsonl"), str(Path(tmp) / "sliced"), SliceParams())
    return model, list(read_trajectories(str(Path(tmp) / "sliced" / "bench")))
