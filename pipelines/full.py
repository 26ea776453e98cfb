"""The whole StreamPro DAG as a Kubeflow (KFP v2) pipeline, assembled from the step table:

    synth → rubrics (rl items) → slice → sft → grpo → bench (baselines, SFT model, GRPO model) → report

and, for your own videos, pipelines/own_data.py: the same DAG with ``ingest`` in place of ``synth``.

The one pipeline parameter ``params`` defaults to params.yaml (the same settings ``dvc repro``
uses); override any of it per run. GPU steps (sft, grpo, and the benches that play a model) request
``orchestration.gpu`` on its node pool (pipelines/dag.py). Deterministic steps are cached.

    PYTHONPATH=. kfp dsl compile --py pipelines/full.py --output pipelines/full.yaml   (from the repo root)
    kfp run submit -e streampro -f pipelines/full.yaml --endpoint https://HOST   # or: streampro submit --host URL
"""
from kfp import dsl
from kfp.dsl import Metrics

from pipelines.dag import DEFAULT_PARAMS, assemble


@dsl.pipeline(name="streampro-full",
              description="StreamPro: synthetic world → trajectories → SFT → GRPO → StreamPro-Bench")
def streampro_full(params: dict = DEFAULT_PARAMS) -> Metrics:
    return assemble(params, world="synth")["report"].outputs["metrics"]


if __name__ == "__main__":
    from kfp import compiler

    compiler.Compiler().compile(streampro_full, __file__.replace(".py", ".yaml"))
