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

from streampro.config import Params, params_from_dict
from streampro.steptable import Out, Step


def _path(artifact: Any, part: str) -> str:
    return os.path.join(artifact.path, part) if part else artifact.path


def _uri(artifact: Any, part: str) -> str:
    return artifact.uri.rstrip("/") + "/" + part if part else artifact.uri


def entry_arguments(step: Step, values: dict[str, Any], uris: bool = False) -> dict[str, Any]:
    """The entry point's keyword arguments from a component's artifacts (their local paths, or with
    ``uris`` their ``gs://`` URIs) and parameters."""
    kwargs: dict[str, Any] = {}
    where = _uri if uris else _path
    for arg in step.args:
        if isinstance(arg.dag, Out):
            kwargs[arg.name] = where(values[arg.dag.artifact], "")
        elif arg.ins():
            paths = [where(values[i.artifact], i.part) for i in arg.ins() if values.get(i.artifact) is not None]
            kwargs[arg.name] = paths if arg.many else (paths[0] if paths else None)
        elif arg.kfp_param and arg.name in values:
            value = values[arg.name]
            kwargs[arg.name] = (list(value) if arg.many else value) if value not in ("", None, []) else None
    return kwargs


def run_task(step_name: str, sections: dict, values: dict[str, Any], table: dict[str, Step] | None = None) -> Any:
    """Run ``step_name`` with the params.yaml ``sections`` the component got (``{"seed": 0, "sft": {...}}``;
    the packaged defaults for the others, which the step does not read) and the component's ``values``
    (artifacts by name)."""
    from streampro.steps import STEPS

    step = (table or STEPS)[step_name]
    params = {**Params().model_dump(mode="json"), **sections}  # each section given whole
    typed = params_from_dict(params, "pipeline params")
    dag = step.dag
    remote = bool(dag.trainjob) and typed.orchestration.train.total_gpus > 1  # a TrainJob writes to the URIs
    if remote:
        result = run_as_trainjob(step, params, typed, values)
    else:
        result = step.entry(typed, **entry_arguments(step, values))
    if dag.metrics and values.get("metrics") is not None:
        for key, value in dag.metrics(result).items():
            values["metrics"].log_metric(key, value)
    scalars = {k: v for k, v in result.items() if isinstance(v, (int, float, bool, str))} if isinstance(result, dict) else {}
    outputs = [arg.dag for arg in step.args if isinstance(arg.dag, Out)]
    for out in outputs:
        values[out.artifact].metadata.update(scalars)
    for kind, file in dag.ui.items():
        if values.get(kind) is None:
            continue
        if remote:
            from streampro import storage

            with open(values[kind].path, "w") as f:
                f.write(storage.read_text(_uri(values[outputs[0].artifact], file)))
        else:
            shutil.copy(os.path.join(values[outputs[0].artifact].path, file), values[kind].path)
    return result


def cli_argv(step: Step, kwargs: dict[str, Any]) -> list[str]:
    """``streampro`` arguments (after the program name) that call ``step`` with ``kwargs``."""
    argv = list(step.words)
    for arg in step.args:
        value = kwargs.get(arg.name)
        if value is None or value is False or value == []:
            continue
        if arg.switch:
            argv.append(arg.flag)
        else:
            argv += [arg.flag, *(str(v) for v in (value if arg.many else [value]))]
    return argv


def run_as_trainjob(step: Step, params: dict, typed, values: dict[str, Any]) -> dict:
    """Train on ``orchestration.train``'s nodes: a TrainJob running the step under torchrun on the
    artifacts' URIs, followed to its end; the result is the summary the step leaves in its output."""
    import json

    import yaml

    from streampro import storage, trainjob

    kwargs = entry_arguments(step, values, uris=True)
    out = next(kwargs[a.name] for a in step.args if isinstance(a.dag, Out))
    params_uri = out.rstrip("/") + ".params.yaml"  # beside the output: the step owns (and empties) the output
    storage.write_text(params_uri, yaml.safe_dump(params, sort_keys=False))
    argv = cli_argv(step, kwargs) + ["--params", params_uri]
    job = trainjob.manifest(trainjob.job_name(step.name, out), argv, typed)
    trainjob.submit_and_follow(job, poll_seconds=typed.orchestration.train.poll_seconds)
    return json.loads(storage.read_text(storage.join(out, step.dag.trainjob)))
