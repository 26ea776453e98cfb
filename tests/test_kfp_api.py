"""The README's Kubeflow commands against a small fake KFP API server on loopback (the v2beta1 REST paths the
kfp client calls), so the documented `kfp ... run create` and `streampro submit` really create a run."""
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO


CREATED = "2026-11-26T12:00:00Z"


class FakeKFP(BaseHTTPRequestHandler):
    requests: list = []

    def _reply(self, payload: dict, status: int = 200):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        type(self).requests.append(("GET", self.path, None))
        path = self.path.split("?")[0]
        if path.endswith("/healthz"):
            return self._reply({"commit_sha": "fake", "tag_name": "2.5.0", "multi_user": False})
        if path.endswith("/experiments"):
            return self._reply({"experiments": [], "total_size": 0})
        if "/runs/" in path:
            return self._reply({"run_id": "run-1", "display_name": "streampro", "experiment_id": "exp-1",
                                "state": "PENDING", "created_at": CREATED})
        return self._reply({}, 404)

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        type(self).requests.append(("POST", self.path, body))
        if self.path.endswith("/experiments"):
            return self._reply({"experiment_id": "exp-1", "display_name": body.get("display_name"), "namespace": "",
                                "created_at": CREATED})
        if self.path.endswith("/runs"):
            return self._reply({"run_id": "run-1", "display_name": body.get("display_name"), "experiment_id": "exp-1",
                                "state": "PENDING", "created_at": CREATED})
        return self._reply({}, 404)

    def log_message(self, *args):
        pass


@pytest.fixture
def kfp_api():
    FakeKFP.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKFP)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _created_run():
    runs = [body for method, path, body in FakeKFP.requests if method == "POST" and path.endswith("/runs")]
    assert len(runs) == 1
    return runs[0]


def test_the_readme_commands_create_a_run(kfp_api, tmp_path):
    readme = (REPO / "README.md").read_text()
    assert "kfp --endpoint https://KFP_HOST run create -e streampro -f pipelines/full.yaml" in readme
    kfp = str(Path(sys.executable).parent / "kfp")
    run = subprocess.run([kfp, "--endpoint", kfp_api, "run", "create", "-e", "streampro", "-f", "pipelines/full.yaml"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert any(m == "POST" and p.endswith("/experiments") and b["display_name"] == "streampro"
               for m, p, b in FakeKFP.requests)
    body = _created_run()
    committed = next(yaml.safe_load_all((REPO / "pipelines" / "full.yaml").read_text()))
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "streampro-full" == committed["pipelineInfo"]["name"]
    assert body["experiment_id"] == "exp-1"


def test_streampro_submit_creates_a_run(kfp_api, capsys):
    from streampro.cli import main

    assert main(["submit", "--host", kfp_api, "--run-name", "nightly"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["submitted"] and result["run_id"] == "run-1" and result["url"].startswith(kfp_api)
    body = _created_run()
    assert body["display_name"] == "nightly" and body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "streampro-full"
