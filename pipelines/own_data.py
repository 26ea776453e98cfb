"""StreamPro on your own videos: the DAG of pipelines/full.py with ``ingest`` (Streamo raw annotations,
one file per split) in place of ``synth``.

    kfp dsl compile --py pipelines/own_data.py --output pipelines/own_data.yaml
    streampro submit --host https://KFP_HOST --pipeline pipelines/own_data.py \
        --arguments '{"annotations": ["sft=gs://B/ann/sft.json", "rl=gs://B/ann/rl.json",
                      "bench=gs://B/ann/bench.json"], "video_root": "gs://B/videos"}'
"""
import sys
from pathlib import Path

from kfp import dsl
from kfp.dsl import Metrics

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `kfp dsl compile --py` from anywhere, no PYTHONPATH
from pipelines.dag import DEFAULT_PARAMS, assemble  # noqa: E402


@dsl.pipeline(name="streampro-own-data",
              description="StreamPro on your videos: Streamo annotations → trajectories → SFT → GRPO → StreamPro-Bench")
def streampro_own_data(annotations: list, video_root: str = "", params: dict = DEFAULT_PARAMS) -> Metrics:
    """``annotations``: Streamo raw annotation files, one per split, as ``SPLIT=URI`` (sft, rl, bench)."""
    tasks = assemble(params, world="ingest", inputs={"annotations": annotations, "video_root": video_root})
    return tasks["report"].outputs["metrics"]


if __name__ == "__main__":
    from kfp import compiler

    compiler.Compiler().compile(streampro_own_data, __file__.replace(".py", ".yaml"))
