"""One step of the step table run inside a Kubeflow component.

The components (``components/``) are made from the step table; each calls :func:`run_task` with its
artifacts and parameters. This maps them onto the step's typed entry point (an input artifact's path
joined with the part the table names, an output artifact's path), runs it, and reports back what the
Kubeflow UI shows: metrics, the output artifacts' metadata and the step's HTML / Markdown pages.
"""
from __future__ import annotations

import os
import shutil
from typing import Any

from streampro.config import params_from_dict
from streampro.steptable import Out, Step


def _path(artifact: Any, part: str) -> str:
    return os.path.join(artifact.path, part) if part else artifact.path


def entry_arguments(step: Step, values: dict[str, Any]) -> dict[str, Any]:
    """The entry point's keyword arguments from a component's artifacts and parameters."""
    kwargs: dict[str, Any] = {}
    for arg in step.args:
        if isinstance(arg.dag, Out):
            kwargs[arg.name] = values[arg.dag.artifact].path
        elif arg.ins():
            paths = [_path(values[i.artifact], i.part) for i in arg.ins() if values.get(i.artifact) is not None]
            kwargs[arg.name] = paths if arg.many else (paths[0] if paths else None)
        elif arg.kfp_param and arg.name in values:
            value = values[arg.name]
            kwargs[arg.name] = (list(value) if arg.many else value) if value not in ("", None, []) else None
    return kwargs


def run_task(step_name: str, params: dict, values: dict[str, Any], table: dict[str, Step] | None = None) -> Any:
    """Run ``step_name`` with the pipeline's ``params`` and the component's ``values`` (artifacts by name)."""
    from streampro.steps import STEPS

    step = (table or STEPS)[step_name]
    result = step.entry(params_from_dict(params, "pipeline params"), **entry_arguments(step, values))
    dag = step.dag
    if dag.metrics and values.get("metrics") is not None:
        for key, value in dag.metrics(result).items():
            values["metrics"].log_metric(key, value)
    scalars = {k: v for k, v in result.items() if isinstance(v, (int, float, bool, str))} if isinstance(result, dict) else {}
    outputs = [arg.dag for arg in step.args if isinstance(arg.dag, Out)]
    for out in outputs:
        values[out.artifact].metadata.update(scalars)
    for kind, file in dag.ui.items():
        shutil.copy(os.path.join(values[outputs[0].artifact].path, file), values[kind].path)
    return result
