"""The Kubeflow DAG assembled from the step table: one KFP task per ``Task`` of each step's ``Dag``,
named as its dvc stage, its artifact inputs wired to the tasks the table names ("world" is the
world's maker: synth, or ingest for your own videos). GPU tasks request ``orchestration.gpu`` and land
on its node pool (kfp-kubernetes node selectors and a toleration, fixed at compile time); steps that
grade with the openai judge get its key from a Kubernetes secret; deterministic steps are cached."""
from __future__ import annotations

from kfp import dsl, kubernetes

from components.factory import components_of, section_input
from components.images import PARAMS
from streampro.steps import STEPS
from streampro.steptable import Step

DEFAULT_PARAMS = PARAMS.model_dump(mode="json", exclude_none=True)  # KFP parameters cannot hold null


def used_sections(world: str, table: dict[str, Step] | None = None) -> list[str]:
    """The params.yaml sections the tasks of a pipeline (its world made by ``world``) read, in params order."""
    table = table or STEPS
    used = {s for step in table.values() if step.dag and (not step.dag.world or step.name == world) for s in step.dag.params}
    return [s for s in DEFAULT_PARAMS if s in used]
GPU = PARAMS.orchestration.gpu
RESOURCES = PARAMS.orchestration.resources


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


def assemble(sections: dict, world: str, inputs: dict | None = None,
             table: dict[str, Step] | None = None) -> dict[str, dsl.PipelineTask]:
    """Every task of the table's DAG in table order, the world made by step ``world``. ``sections`` are the
    pipeline's params.yaml inputs by section name (``{"seed": ..., "sft": ...}``): each task gets only the
    sections its step reads. ``inputs`` are pipeline parameters handed to the component parameters of the
    same name. Returns tasks by name."""
    table = table or STEPS
    components, cpu_components = components_of(table), components_of(table, gpu=False)
    names = {t.name for s in table.values() if s.dag for t in s.dag.tasks}
    unknown = sorted(set(RESOURCES) - names - {"default"})
    if unknown:
        raise ValueError(f"params.yaml orchestration.resources names no task: {unknown} (tasks: {sorted(names)})")
    tasks: dict[str, dsl.PipelineTask] = {}
    for step in table.values():
        if not step.dag or (step.dag.world and step.name != world):
            continue
        for spec in step.dag.tasks:
            kwargs = {section_input(s)[0]: sections[s] for s in step.dag.params}
            for name, ref in spec.inputs.items():
                producer, _, artifact = ref.partition(".")
                producer, artifact = (world, "world") if ref == "world" else (producer, artifact)
                if producer not in tasks:
                    raise ValueError(f"task {spec.name!r}: input {name!r} comes from {producer!r}, which is not "
                                     "an earlier task of the step table")
                kwargs[name] = tasks[producer].outputs[artifact]
            for arg in step.args:
                if arg.kfp_param and arg.name in {**(inputs or {}), **spec.values}:
                    kwargs[arg.name] = {**(inputs or {}), **spec.values}[arg.name]
            component = (components if spec.gpu else cpu_components)[step.name]
            task = component(**kwargs).set_display_name(spec.name).set_caching_options(step.dag.cache)
            request = RESOURCES.get(spec.name, RESOURCES["default"])
            task.set_cpu_request(request.cpu).set_memory_request(request.memory)
            if spec.gpu:
                on_gpu(task)
            if step.dag.judge_key:
                with_judge_key(task)
            tasks[spec.name] = task
    return tasks
