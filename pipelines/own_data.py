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
from pipelines.dag import DEFAULT_PARAMS as D  # noqa: E402
from pipelines.dag import assemble  # noqa: E402


@dsl.pipeline(name="streampro-own-data",
              description="StreamPro on your videos: Streamo annotations → trajectories → SFT → GRPO → StreamPro-Bench")
def streampro_own_data(annotations: list, video_root: str = "", seed: int = D["seed"],
                       max_dead_letter_share: float = D["max_dead_letter_share"], ingest_params: dict = D["ingest"],
                       slice_params: dict = D["slice"], model_params: dict = D["model"], sft_params: dict = D["sft"],
                       grpo_params: dict = D["grpo"], bench_params: dict = D["bench"],
                       orchestration_params: dict = D["orchestration"]) -> Metrics:
    """``annotations``: Streamo raw annotation files, one per split, as ``SPLIT=URI`` (sft, rl, bench)."""
    sections = {"seed": seed, "max_dead_letter_share": max_dead_letter_share, "ingest": ingest_params,
                "slice": slice_params, "model": model_params, "sft": sft_params, "grpo": grpo_params,
                "bench": bench_params, "orchestration": orchestration_params}
    tasks = assemble(sections, world="ingest", inputs={"annotations": annotations, "video_root": video_root})
    return tasks["report"].outputs["metrics"]


if __name__ == "__main__":
    from kfp import compiler

    compiler.Compiler().compile(streampro_own_data, __file__.replace(".py", ".yaml"))
