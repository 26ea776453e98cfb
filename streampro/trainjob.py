"""Many nodes on Kubeflow: a training step (sft, grpo) as a Kubeflow Trainer ``TrainJob``.

When params.yaml ``orchestration.train`` asks for more than one GPU in all, the sft and grpo Kubeflow
tasks do not train in their own pod: they submit a ``TrainJob`` (trainer.kubeflow.org/v1alpha1) on the
``torch-distributed`` runtime, ``numNodes`` nodes of ``numProcPerNode`` processes, each running
``torchrun -m streampro.cli <step> ...`` (the runtime sets torchrun's PET_* rendezvous variables) in the
project's GPU image, with the step's inputs and outputs as the artifacts' ``gs://`` URIs (the training
steps stage checkpoints locally and upload them; ``streampro/outputs.py`` ``staged``). The task follows
the job to its end and fails with the job's own message when the job fails.

``validate`` checks a manifest against the TrainJob CRD's openAPIV3Schema as the API server's strict
field validation does: wrong types, missing required fields and unknown fields are errors.
"""
from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

GROUP, VERSION, PLURAL, KIND = "trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob"
NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # a DNS-1035 label: the runtime names its pods after the job


class TrainJobFailed(RuntimeError):
    """The TrainJob ended in its Failed condition (the message is the job's)."""


def job_name(step: str, out_uri: str) -> str:
    """A name unique to the step's output (a resubmitted task finds its own job), at most 40 characters."""
    return f"streampro-{step}-{hashlib.sha256(out_uri.encode()).hexdigest()[:12]}".replace("_", "-")


def manifest(name: str, argv: list[str], params) -> dict:
    """The TrainJob running ``streampro <argv>`` under torchrun on ``params.orchestration.train``'s nodes."""
    orch, train = params.orchestration, params.orchestration.train
    gpus = {orch.gpu.resource: str(train.gpus_per_node)}
    env = [{"name": "PYTHONUNBUFFERED", "value": "1"}]
    if params.bench.judge == "openai":  # GRPO's trajectory reward grades with the judge
        env.append({"name": params.bench.judge_api_key_env, "valueFrom": {"secretKeyRef": {
            "name": orch.judge_secret, "key": orch.judge_secret_key}}})
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": KIND,
        "metadata": {"name": name, "namespace": train.namespace,
                     "labels": {"app.kubernetes.io/part-of": "streampro", "streampro/step": argv[0]}},
        "spec": {
            "runtimeRef": {"name": train.runtime, "apiGroup": GROUP, "kind": "ClusterTrainingRuntime"},
            "trainer": {
                "image": orch.gpu_image,
                "command": ["torchrun", "-m", "streampro.cli"],
                "args": list(argv),
                "numNodes": train.nodes,
                "numProcPerNode": train.gpus_per_node,
                "resourcesPerNode": {"requests": {"cpu": train.cpu, "memory": train.memory, **gpus}, "limits": gpus},
                "env": env,
            },
        },
    }


def validate(obj: Any, schema: dict, path: str = "") -> list[str]:
    """Problems of ``obj`` against an openAPIV3Schema (``[]``: valid), unknown fields included."""
    where = path or "<root>"
    if schema.get("x-kubernetes-int-or-string"):
        return [] if isinstance(obj, (int, str)) and not isinstance(obj, bool) else [f"{where}: not an int or string"]
    kind = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    if kind in checks and (not isinstance(obj, checks[kind]) or (kind in ("integer", "number") and isinstance(obj, bool))):
        return [f"{where}: expected {kind}, got {type(obj).__name__}"]
    problems = []
    if "enum" in schema and obj not in schema["enum"]:
        problems.append(f"{where}: {obj!r} is not one of {schema['enum']}")
    if kind == "string" and "maxLength" in schema and len(obj) > schema["maxLength"]:
        problems.append(f"{where}: longer than {schema['maxLength']}")
    if kind in ("integer", "number") and "minimum" in schema and obj < schema["minimum"]:
        problems.append(f"{where}: below {schema['minimum']}")
    if kind == "array":
        if "maxItems" in schema and len(obj) > schema["maxItems"]:
            problems.append(f"{where}: more than {schema['maxItems']} items")
        for k, item in enumerate(obj):
            problems += validate(item, schema.get("items", {}), f"{path}[{k}]")
    if kind == "object":
        props, extra = schema.get("properties"), schema.get("additionalProperties")
        problems += [f"{where}: missing required field {r!r}" for r in schema.get("required", []) if r not in obj]
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else key
            if props is not None and key in props:
                problems += validate(value, props[key], sub)
            elif isinstance(extra, dict):
                problems += validate(value, extra, sub)
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields") and extra is not True:
                problems.append(f"{sub}: unknown field")
    return problems


def check(job: dict, crd: dict) -> None:
    """Raise ``ValueError`` listing every problem of ``job`` against the TrainJob CRD (a parsed CRD file)."""
    version = next(v for v in crd["spec"]["versions"] if v["name"] == VERSION)
    problems = validate(job, version["schema"]["openAPIV3Schema"])
    name = job.get("metadata", {}).get("name", "")
    if not NAME.match(name) or len(name) > 63:
        problems.append(f"metadata.name: {name!r} is not a DNS-1035 label")
    if problems:
        raise ValueError("TrainJob manifest rejected: " + "; ".join(problems))


def kubernetes_api():
    """The Kubernetes custom-objects API: in-cluster credentials in a pod, else the local kubeconfig."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()


def conditions(job: dict) -> dict[str, dict]:
    return {c.get("type"): c for c in (job.get("status") or {}).get("conditions") or []}


def follow(api, name: str, namespace: str, poll_seconds: float = 30.0, timeout_s: float | None = None,
           sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print) -> dict:
    """Poll the TrainJob until its Complete or Failed condition is True; returns the finished job or
    raises ``TrainJobFailed`` with the job's message."""
    start, said = time.monotonic(), None
    while True:
        job = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        found = conditions(job)
        if found.get("Failed", {}).get("status") == "True":
            failed = found["Failed"]
            raise TrainJobFailed(f"TrainJob {namespace}/{name} failed: {failed.get('reason', '')}: "
                                 f"{failed.get('message', '(no message)')}")
        if found.get("Complete", {}).get("status") == "True":
            return job
        state = ", ".join(sorted(t for t, c in found.items() if c.get("status") == "True")) or "pending"
        if state != said:
            log(f"TrainJob {namespace}/{name}: {state}")
            said = state
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"TrainJob {namespace}/{name} did not finish in {timeout_s:.0f} s ({state})")
        sleep(poll_seconds)


def submit_and_follow(job: dict, api=None, crd: dict | None = None, **follow_args) -> dict:
    """Create ``job`` (checked against ``crd`` first when given) unless it exists, then follow it."""
    from kubernetes.client.exceptions import ApiException

    if crd is not None:
        check(job, crd)
    api = api or kubernetes_api()
    name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
    try:
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, job)
    except ApiException as exc:
        if exc.status != 409:  # 409: already there (a retried task follows the job it submitted)
            raise
    return follow(api, name, namespace, **follow_args)
