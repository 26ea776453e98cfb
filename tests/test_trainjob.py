"""Many nodes on Kubeflow: the sft/grpo TrainJob validates against Kubeflow Trainer's real CRD schema (strictly:
a misspelt field fails), and against a small fake Kubernetes API on loopback the task creates the job, follows it
to completion and returns, and fails with the job's message when the job fails."""
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from streampro import trainjob
from streampro.config import load_params
from tests.conftest import REPO

CRD = REPO.parent / "shared" / "peers" / "kubeflow-trainer" / "trainer.kubeflow.org_trainjobs.yaml"
needs_crd = pytest.mark.skipif(not CRD.exists(), reason="../shared/peers (the real TrainJob CRD) is not beside the repo")


def _paper():
    return load_params(REPO / "params.yaml", REPO / "profiles" / "paper.yaml")


def _job(argv=("sft", "--trajectories", "gs://b/sliced/sft", "--out", "gs://b/models/sft")):
    return trainjob.manifest(trainjob.job_name("sft", "gs://b/models/sft"), list(argv), _paper())


@needs_crd
def test_the_paper_profiles_trainjob_validates_against_the_crd():
    crd = yaml.safe_load(CRD.read_text())
    job = _job()
    trainjob.check(job, crd)  # no error
    trainer = job["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (8, 8)
    assert trainer["command"] == ["torchrun", "-m", "streampro.cli"] and trainer["args"][0] == "sft"
    assert trainer["resourcesPerNode"]["limits"] == {"nvidia.com/gpu": "8"}
    assert job["spec"]["runtimeRef"]["name"] == "torch-distributed"
    params = _paper()
    assert params.sft.batch_size * params.sft.gradient_accumulation_steps * params.orchestration.train.total_gpus == 512


@needs_crd
@pytest.mark.parametrize("break_it, problem", [
    (lambda j: j["spec"]["trainer"].update(numNode=8), "spec.trainer.numNode: unknown field"),
    (lambda j: j["spec"].update(runtimeRefs=j["spec"].pop("runtimeRef")), "missing required field 'runtimeRef'"),
    (lambda j: j["spec"]["trainer"].update(numNodes="8"), "spec.trainer.numNodes: expected integer"),
    (lambda j: j["spec"]["trainer"]["env"].append({"name": "X", "valu": "1"}), "spec.trainer.env[1].valu: unknown field"),
    (lambda j: j["metadata"].update(name="StreamPro_SFT"), "metadata.name"),
])
def test_a_broken_trainjob_is_rejected_naming_the_field(break_it, problem):
    crd = yaml.safe_load(CRD.read_text())
    job = _job()
    break_it(job)
    with pytest.raises(ValueError, match=re.escape(problem)):
        trainjob.check(job, crd)


class FakeKubernetes(ThreadingHTTPServer):
    """The TrainJob API of a Kubernetes API server: create, then get; a job turns Complete (or Failed, for
    names in ``failing``) on its second read; ``on_create`` plays the job's work."""

    def __init__(self, failing=(), on_create=None):
        self.jobs, self.reads, self.failing, self.on_create = {}, {}, set(failing), on_create
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    PREFIX = "/apis/trainer.kubeflow.org/v1alpha1/namespaces/"

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = body["metadata"]["name"]
        if not self.path.startswith(self.PREFIX) or not self.path.endswith("/trainjobs"):
            return self._send(404, {"kind": "Status", "code": 404})
        if name in self.server.jobs:
            return self._send(409, {"kind": "Status", "code": 409, "reason": "AlreadyExists"})
        self.server.jobs[name] = body
        if self.server.on_create:
            self.server.on_create(body)
        self._send(201, body)

    def do_GET(self):  # noqa: N802
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.server.jobs:
            return self._send(404, {"kind": "Status", "code": 404})
        reads = self.server.reads[name] = self.server.reads.get(name, 0) + 1
        condition = [{"type": "Created", "status": "True"}]
        if reads >= 2:
            failed = name in self.server.failing
            condition.append({"type": "Failed" if failed else "Complete", "status": "True",
                              "reason": "TrainingFailed" if failed else "JobCompleted",
                              "message": "node-0-1 exited with code 1: CUDA out of memory" if failed else "done"})
        self._send(200, {**self.server.jobs[name], "status": {"conditions": condition}})

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_kubernetes(monkeypatch):
    from kubernetes import client

    servers = []

    def start(**kwargs):
        server = FakeKubernetes(**kwargs)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        api = client.CustomObjectsApi(client.ApiClient(client.Configuration(host=f"http://127.0.0.1:{server.server_port}")))
        monkeypatch.setattr(trainjob, "kubernetes_api", lambda: api)
        return server

    yield start
    for server in servers:
        server.shutdown()


def test_submit_follows_the_job_to_completion_and_a_failed_job_fails_with_its_message(fake_kubernetes):
    server = fake_kubernetes(failing={"streampro-grpo-broken"})
    job = _job()
    done = trainjob.submit_and_follow(job, poll_seconds=0.01, log=lambda _: None)
    assert trainjob.conditions(done)["Complete"]["status"] == "True"
    assert server.jobs[job["metadata"]["name"]]["spec"]["trainer"]["args"][:2] == ["sft", "--trajectories"]
    assert trainjob.submit_and_follow(job, poll_seconds=0.01, log=lambda _: None)  # resubmitted: 409, follows it
    broken = {**job, "metadata": {**job["metadata"], "name": "streampro-grpo-broken"}}
    with pytest.raises(trainjob.TrainJobFailed, match="CUDA out of memory"):
        trainjob.submit_and_follow(broken, poll_seconds=0.01, log=lambda _: None)


def test_the_sft_task_on_many_gpus_submits_a_trainjob_on_the_artifact_uris(fake_kubernetes, tmp_path):
    """kfp_task.run_task with orchestration.train at 2 x 4 GPUs: no training in the task's pod; the job's args
    carry the artifacts' URIs and the params written beside the output; the result is the job's summary."""
    from streampro.kfp_task import run_task

    def work(job):  # what the TrainJob's rank 0 leaves in the output artifact
        args = job["spec"]["trainer"]["args"]
        out = Path(args[args.index("--out") + 1])
        out.mkdir(parents=True)
        (out / "sft_summary.json").write_text(json.dumps({"global_step": 7, "train_loss": 0.5, "p_response_right": 0.9,
                                                          "p_response_elsewhere": 0.1, "frame_gap": 0.0}))

    server = fake_kubernetes(on_create=work)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["orchestration"]["train"].update({"nodes": 2, "gpus_per_node": 4, "poll_seconds": 0.01})
    artifact = lambda uri: SimpleNamespace(uri=uri, path="/pod/local/" + uri.rsplit("/", 1)[-1], metadata={})  # noqa: E731
    logged = {}
    values = {"base_model": artifact(str(tmp_path / "prepared")), "trajectories": artifact(str(tmp_path / "sliced")),
              "model": artifact(str(tmp_path / "sft")), "metrics": SimpleNamespace(log_metric=logged.__setitem__)}
    result = run_task("sft", params, values)
    assert result["global_step"] == 7 and logged["global_step"] == 7
    (job,) = server.jobs.values()
    args = job["spec"]["trainer"]["args"]
    assert args[0] == "sft" and args[args.index("--trajectories") + 1] == str(tmp_path / "sliced" / "sft")
    assert args[args.index("--model") + 1] == str(tmp_path / "prepared")
    assert args[args.index("--eval-trajectories") + 1] == str(tmp_path / "sliced" / "rl")
    assert (job["spec"]["trainer"]["numNodes"], job["spec"]["trainer"]["numProcPerNode"]) == (2, 4)
    written = yaml.safe_load(Path(args[args.index("--params") + 1]).read_text())
    assert written["orchestration"]["train"]["nodes"] == 2
