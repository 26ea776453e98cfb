"""KFP v2 components: one lightweight Python component per step of the step table.

Each is a thin function over the step's library entry point (``streampro.steps``), with typed
artifacts, running in the project's images (names from params.yaml ``orchestration``). Every
component takes the whole ``params`` mapping (the pipeline parameter that defaults to params.yaml),
so the cluster runs with exactly the settings ``dvc repro`` uses.
"""
from components.steps import bench, grpo, ingest, report, rubrics, sft, slice_videos, synth

__all__ = ["synth", "ingest", "rubrics", "slice_videos", "sft", "grpo", "bench", "report"]
