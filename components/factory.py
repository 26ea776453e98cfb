"""KFP components made from the step table: one lightweight Python component per step with a DAG.

A step's typed arguments give the component's signature: an ``In`` argument is an input artifact, an
``Out`` one an output artifact, a ``kfp_param`` one a parameter; every component also takes the
params.yaml sections the step reads (``Dag.params``: ``seed: int``, ``sft_params: dict``, ...; only
those, so a change elsewhere leaves its cache key alone) and, where the step reports them,
``metrics`` / ``html`` / ``markdown`` outputs.
The body is one call of :func:`streampro.kfp_task.run_task`, which runs the step's entry point in the
container. KFP ships a component as its function's source, so the source is written out here and
registered with ``linecache`` (as ``dataclasses`` and ``attrs`` do for the code they generate), where
``inspect.getsource`` finds it.
"""
from __future__ import annotations

import linecache

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Markdown, Metrics, Model, Output

from components.images import CPU_IMAGE, GPU_IMAGE
from streampro.config import Params
from streampro.steptable import Out, Step

UI_TYPES = {"html": "HTML", "markdown": "Markdown"}
PARAM_TYPES = {str: "str", int: "int", float: "float", bool: "bool"}
NAMESPACE = {"Input": Input, "Output": Output, "Dataset": Dataset, "Model": Model, "Metrics": Metrics, "HTML": HTML,
             "Markdown": Markdown}


def section_input(section: str) -> tuple[str, str]:
    """The KFP input for a params.yaml section: ``(name, type)``; a scalar keeps its name and type, a section
    of settings is a dict named ``<section>_params`` (no clash with an artifact such as ``model``)."""
    kind = Params.model_fields[section].annotation
    if kind in (int, float, str, bool):
        return section, PARAM_TYPES[kind]
    return f"{section}_params", "dict"


def signature(step: Step) -> tuple[list[str], list[str]]:
    """The component's parameters (required first, then those with defaults) and the names handed to the step
    (an input artifact is optional where some task of the step leaves it unbound)."""
    required = [f"{name}: {kind}" for name, kind in map(section_input, step.dag.params)]
    optional, names, seen = [], [], set()
    for arg in step.args:
        for i in arg.ins():
            if i.artifact not in seen:
                seen.add(i.artifact)
                bound = all(i.artifact in task.inputs for task in step.dag.tasks)  # else optional
                (required if bound else optional).append(f"{i.artifact}: Input[{i.kind}]" + ("" if bound else " = None"))
                names.append(i.artifact)
        if isinstance(arg.dag, Out):
            required.append(f"{arg.dag.artifact}: Output[{arg.dag.kind}]")
            names.append(arg.dag.artifact)
        elif arg.kfp_param:
            kind = "list" if arg.many else PARAM_TYPES[arg.type]
            if arg.required:
                required.append(f"{arg.name}: {kind}")
            else:
                default = "[]" if arg.many else repr(arg.default if arg.default is not None else
                                                     {"str": "", "int": 0, "float": 0.0, "bool": False}[kind])
                optional.append(f"{arg.name}: {kind} = {default}")
            names.append(arg.name)
    if step.dag.metrics:
        required.append("metrics: Output[Metrics]")
        names.append("metrics")
    for kind in step.dag.ui:
        required.append(f"{kind}: Output[{UI_TYPES[kind]}]")
        names.append(kind)
    return required + optional, names


def component_source(step: Step) -> str:
    parameters, names = signature(step)
    passed = ", ".join(f"{n}={n}" for n in names)
    sections = ", ".join(f"{s}={section_input(s)[0]}" for s in step.dag.params)
    return (f"def {step.name.replace('-', '_')}({', '.join(parameters)}):\n"
            f"    {step.summary[:1].upper() + step.summary[1:]!r}\n"
            "    from streampro.kfp_task import run_task\n\n"
            f"    run_task({step.name!r}, dict({sections}), dict({passed}))\n")


def make_component(step: Step, gpu: bool = True):
    """The KFP component of one step, in the GPU image for the steps that train or play models (``gpu``
    False: the CPU image, for a task of such a step that needs no GPU)."""
    source = component_source(step)
    filename = f"<streampro component {step.name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(NAMESPACE)
    exec(compile(source, filename, "exec", dont_inherit=True), namespace)  # noqa: S102 - our own generated source, shown in the IR
    function = namespace[step.name.replace("-", "_")]
    return dsl.component(function, base_image=GPU_IMAGE if step.dag.image == "gpu" and gpu else CPU_IMAGE)


def components_of(table: dict[str, Step], gpu: bool = True) -> dict:
    """``{step name: component}`` for every step of ``table`` that has a DAG (``gpu`` False: all in the CPU image)."""
    return {name: make_component(step, gpu) for name, step in table.items() if step.dag}
