"""StreamPro on your own videos: the DAG of pipelines/full.py with ``ingest`` (Streamo raw annotations,
one file per split) in place of ``synth``.

    PYTHONPATH=. kfp dsl compile --py pipelines/own_data.py --output pipelines/own_data.yaml   (from the repo root)
    streampro submit --host https://KFP_HOST --pipeline pipelines/own_data.py \
        --arguments '{"annotations": ["sft=gs://B/ann/sft.json", "rl=gs://B/ann/rl.json",
                      "bench=gs://B/ann/bench.json"], "video_root": "gs://B/videos"}'
"""
from kfp import dsl
from kfp.dsl import Metrics

from pipelines.dag import DEFAULT_PARAMS, assemble


@dsl.pipeline(name="streampro-own-data",
              description="StreamPro on your videos: Streamo annotations → trajectories → SFT → GRPO → StreamPro-Bench")
def streampro_own_data(annotations: list, video_root: str = "", params: dict = DEFAULT_PARAMS) -> Metrics:
    """``annotations``: Streamo raw annotation files, one per split, as ``SPLIT=URI`` (sft, rl, bench)."""
    tasks = assemble(params, world="ingest", inputs={"annotations": annotations, "video_root": video_root})
    return tasks["report"].outputs["metrics"]


if __name__ == "__main__":
    from kfp import compiler

    compiler.Compiler().compile(streampro_own_data, __file__.replace(".py", ".yaml"))
