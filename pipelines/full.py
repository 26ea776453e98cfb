"""The whole StreamPro DAG as a Kubeflow (KFP v2) pipeline, assembled from the step table:

    synth → rubrics (rl items) → slice → sft → grpo → bench (baselines, SFT model, GRPO model) → report

and, for your own videos, pipelines/own_data.py: the same DAG with ``ingest`` in place of ``synth``.

The one pipeline parameter ``params`` defaults to params.yaml (the same settings ``dvc repro``
uses); override any of it per run. GPU steps (sft, grpo, and the benches that play a model) request
``orchestration.gpu`` on its node pool (pipelines/dag.py). Deterministic steps are cached.

    kfp dsl compile --py pipelines/full.py --output pipelines/full.yaml
    kfp --endpoint https://HOST run create -e streampro -f pipelines/full.yaml   # or: streampro submit --host URL
"""
import sys
from pathlib import Path

from kfp import dsl
from kfp.dsl import Metrics

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `kfp dsl compile --py` from anywhere, no PYTHONPATH
from pipelines.dag import DEFAULT_PARAMS, assemble  # noqa: E402


@dsl.pipeline(name="streampro-full",
              description="StreamPro: synthetic world → trajectories → SFT → GRPO → StreamPro-Bench")
def streampro_full(params: dict = DEFAULT_PARAMS) -> Metrics:
    return assemble(params, world="synth")["report"].outputs["metrics"]


if __name__ == "__main__":
    from kfp import compiler

    compiler.Compiler().compile(streampro_full, __file__.replace(".py", ".yaml"))
