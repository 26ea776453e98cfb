"""``streampro submit``: compile a pipeline file and submit it to a Kubeflow Pipelines endpoint.

The KFP CLI takes a compiled package (``kfp run submit`` is an alias of ``kfp run create``, which needs
a .yaml); this does both steps through ``kfp.Client``. Credentials: the endpoint's own (an IAP or
Dex token from the environment), never params.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path


def load_pipeline(path: str):
    """The ``@dsl.pipeline`` function defined in a pipeline file (its folder's parent on sys.path)."""
    file = Path(path).resolve()
    sys.path.insert(0, str(file.parent.parent))
    spec = importlib.util.spec_from_file_location(f"_pipeline_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from kfp.dsl.graph_component import GraphComponent

    found = [v for v in vars(module).values() if isinstance(v, GraphComponent)]
    if len(found) != 1:
        raise ValueError(f"{path}: expected one @dsl.pipeline function, found {len(found)}")
    return found[0]


def compile_pipeline(path: str, output: str) -> str:
    from kfp import compiler

    compiler.Compiler().compile(load_pipeline(path), output)
    return output


def submit(host: str | None, pipeline: str = "pipelines/full.py", experiment: str = "streampro",
           run_name: str | None = None, arguments: dict | None = None, dry_run: bool = False,
           output: str | None = None) -> dict:
    """Compile ``pipeline`` (to ``output``, or a temporary file: the tracked .yaml is left alone) and, unless
    ``dry_run``, create a run of it on ``host``; an unreachable host is a clear error."""
    import tempfile

    package = output or os.path.join(tempfile.mkdtemp(prefix="streampro-submit-"), Path(pipeline).stem + ".yaml")
    compile_pipeline(pipeline, package)
    if dry_run:
        return {"compiled": package, "submitted": False}
    import kfp

    try:
        client = kfp.Client(host=host)
        run = client.create_run_from_pipeline_package(package, arguments=arguments or {}, run_name=run_name,
                                                      experiment_name=experiment)
    except Exception as exc:  # noqa: BLE001 - urllib3, kfp_server_api and kubernetes errors alike
        reason = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot create the run on {host}: {type(exc).__name__}: {reason}") from None
    return {"compiled": package, "submitted": True, "run_id": run.run_id,
            "url": f"{host.rstrip('/')}/#/runs/details/{run.run_id}"}
