"""StreamPro on your own videos: the DAG of pipelines/full.py with ``ingest`` (Streamo raw annotations,
one file per split) in place of ``synth``.

    PYTHONPATH=. kfp dsl compile --py pipelines/own_data.py --output pipelines/own_data.yaml   (from the repo root)
    streampro submit --host https://KFP_HOST --pipeline pipelines/own_data.py \
        --arguments '{"annotations": {"sft": "gs://B/ann/sft.json", "rl": "gs://B/ann/rl.json",
                      "bench": "gs://B/ann/bench.json"}, "video_root": "gs://B/videos"}'
"""
from kfp import dsl
from kfp.dsl import Metrics

from components import ingest
from pipelines.full import DEFAULT_PARAMS, train_and_evaluate


@dsl.pipeline(name="streampro-own-data",
              description="StreamPro on your videos: Streamo annotations → trajectories → SFT → GRPO → StreamPro-Bench")
def streampro_own_data(annotations: dict, video_root: str = "", params: dict = DEFAULT_PARAMS) -> Metrics:
    """``annotations``: one Streamo raw annotation file per split (sft, rl, bench)."""
    world = ingest(params=params, annotations=annotations, video_root=video_root)
    world.set_display_name("ingest").set_caching_options(True)
    return train_and_evaluate(params, world)



if __name__ == "__main__":
    from kfp import compiler

    compiler.Compiler().compile(streampro_own_data, __file__.replace(".py", ".yaml"))
