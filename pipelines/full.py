"""The whole StreamPro DAG as a Kubeflow (KFP v2) pipeline, assembled from the step table:

    synth → rubrics (rl items) → slice → sft → grpo → bench (baselines, SFT model, GRPO model) → report

and, for your own videos, pipelines/own_data.py: the same DAG with ``ingest`` in place of ``synth``.

The pipeline's inputs are params.yaml's sections, typed (``seed: int``, ``sft_params: dict``, ...) and
defaulting to params.yaml (the same settings ``dvc repro`` uses); override any per run. Each task gets
only the sections its step reads, so changing a GRPO setting leaves the synth, slice and sft cache keys
as they were. GPU steps (sft, grpo, and the benches that play a model) request
``orchestration.gpu`` on its node pool (pipelines/dag.py). Deterministic steps are cached.

    kfp dsl compile --py pipelines/full.py --output pipelines/full.yaml
    kfp --endpoint https://HOST run create -e streampro -f pipelines/full.yaml   # or: streampro submit --host URL
"""
import sys
from pathlib import Path

from kfp import dsl
from kfp.dsl import Metrics

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `kfp dsl compile --py` from anywhere, no PYTHONPATH
from pipelines.dag import DEFAULT_PARAMS as D  # noqa: E402
from pipelines.dag import assemble  # noqa: E402


@dsl.pipeline(name="streampro-full",
              description="StreamPro: synthetic world → trajectories → SFT → GRPO → StreamPro-Bench")
def streampro_full(seed: int = D["seed"], max_dead_letter_share: float = D["max_dead_letter_share"],
                   synth_params: dict = D["synth"], slice_params: dict = D["slice"], model_params: dict = D["model"],
                   sft_params: dict = D["sft"], grpo_params: dict = D["grpo"], bench_params: dict = D["bench"],
                   orchestration_params: dict = D["orchestration"]) -> Metrics:
    sections = {"seed": seed, "max_dead_letter_share": max_dead_letter_share, "synth": synth_params,
                "slice": slice_params, "model": model_params, "sft": sft_params, "grpo": grpo_params,
                "bench": bench_params, "orchestration": orchestration_params}
    return assemble(sections, world="synth")["report"].outputs["metrics"]


if __name__ == "__main__":
    from kfp import compiler

    compiler.Compiler().compile(streampro_full, __file__.replace(".py", ".yaml"))
