"""The whole StreamPro DAG as a Kubeflow (KFP v2) pipeline:

    synth → rubrics (rl items) → slice → sft → grpo → bench (baselines, SFT model, GRPO model) → report

and, for your own videos, pipelines/own_data.py: the same DAG with ``ingest`` in place of ``synth``.

The one pipeline parameter ``params`` defaults to params.yaml (the same settings ``dvc repro``
uses); override any of it per run. GPU steps (sft, grpo, and the benches that play a model) request
``orchestration.gpu`` and land on its node pool through kfp-kubernetes node selectors and
tolerations, fixed at compile time. Deterministic steps are cached.

    PYTHONPATH=. kfp dsl compile --py pipelines/full.py --output pipelines/full.yaml   (from the repo root)
    kfp run submit -e streampro -f pipelines/full.yaml --endpoint https://HOST   # or: streampro submit --host URL
"""
from kfp import dsl, kubernetes
from kfp.dsl import Metrics

from components import bench, grpo, report, rubrics, sft, slice_videos, synth
from components.images import PARAMS

DEFAULT_PARAMS = PARAMS.model_dump(mode="json", exclude_none=True)  # KFP parameters cannot hold null
GPU = PARAMS.orchestration.gpu


def on_gpu(task: dsl.PipelineTask) -> dsl.PipelineTask:
    task.set_accelerator_type(GPU.resource).set_accelerator_limit(GPU.count)
    kubernetes.add_node_selector(task, label_key=GPU.accelerator_label, label_value=GPU.accelerator)
    kubernetes.add_node_selector(task, label_key=GPU.pool_label, label_value=GPU.pool)
    kubernetes.add_toleration(task, key=GPU.toleration_key, operator="Exists", effect="NoSchedule")
    return task


def with_judge_key(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """The openai judge's API key from a Kubernetes secret (only when params.yaml selects that judge)."""
    if PARAMS.bench.judge == "openai":
        kubernetes.use_secret_as_env(task, secret_name=PARAMS.orchestration.judge_secret,
                                     secret_key_to_env={PARAMS.orchestration.judge_secret_key: PARAMS.bench.judge_api_key_env})
    return task


def train_and_evaluate(params, world: dsl.PipelineTask):
    """Everything after the world (synthetic or ingested): rubrics → slice → sft → grpo → bench → report."""
    written = with_judge_key(rubrics(params=params, world=world.outputs["world"])).set_display_name("rubrics")
    written.set_caching_options(True)
    sliced = slice_videos(params=params, world=world.outputs["world"], rl_items=written.outputs["rl_items"])
    sliced.set_display_name("slice")
    sliced.set_caching_options(True)
    model = on_gpu(sft(params=params, trajectories=sliced.outputs["trajectories"]).set_display_name("sft"))
    model.set_caching_options(False)
    tuned = on_gpu(with_judge_key(grpo(params=params, sft_model=model.outputs["model"],
                                       trajectories=sliced.outputs["trajectories"])))
    tuned.set_display_name("grpo").set_caching_options(False)
    baselines = with_judge_key(bench(params=params, trajectories=sliced.outputs["trajectories"], world=world.outputs["world"],
                      policies=PARAMS.bench.policies)).set_display_name("bench-baselines").set_caching_options(True)
    scored = on_gpu(with_judge_key(bench(params=params, trajectories=sliced.outputs["trajectories"], world=world.outputs["world"],
                          policies=["model"], model=model.outputs["model"])).set_display_name("bench-sft"))
    scored.set_caching_options(True)
    scored_grpo = on_gpu(with_judge_key(bench(params=params, trajectories=sliced.outputs["trajectories"], world=world.outputs["world"],
                               policies=["model"], model=tuned.outputs["model"])).set_display_name("bench-grpo"))
    scored_grpo.set_caching_options(True)
    final = report(params=params, baselines=baselines.outputs["results"], sft_bench=scored.outputs["results"],
                   grpo_bench=scored_grpo.outputs["results"])
    final.set_display_name("report").set_caching_options(True)
    return final.outputs["metrics"]


@dsl.pipeline(name="streampro-full",
              description="StreamPro: synthetic world → trajectories → SFT → GRPO → StreamPro-Bench")
def streampro_full(params: dict = DEFAULT_PARAMS) -> Metrics:
    world = synth(params=params).set_display_name("synth").set_caching_options(True)
    return train_and_evaluate(params, world)


if __name__ == "__main__":
    from kfp import compiler

    compiler.Compiler().compile(streampro_full, __file__.replace(".py", ".yaml"))
