"""Every path may be gs://: the synth and slice steps against a GCS emulator on loopback.

`gcp-storage-emulator` speaks the GCS JSON API on 127.0.0.1 (a stand-in for the real service at the
network boundary); STORAGE_EMULATOR_HOST points google-cloud-storage, and through it Beam's
FileSystems, at it.
"""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NO_CURRICULUM, REPO

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gcs():
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", str(port),
                             "--in-memory", "--default-bucket", "streampro"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    env = {**os.environ, "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}", "GOOGLE_CLOUD_PROJECT": "streampro-test"}
    yield env
    proc.terminate()
    proc.wait(timeout=10)


def _cli(env, *args) -> dict:
    run = subprocess.run([str(BIN / "streampro"), *args, "--params", str(REPO / "params.yaml")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_synth_and_slice_from_and_to_a_bucket(gcs):
    synth = _cli(gcs, "synth", "--out", "gs://streampro/world", "--videos", "2", "--seed", "5")
    assert synth["videos"] == 6
    sliced = _cli(gcs, "slice", "--manifest", "gs://streampro/world/manifest.jsonl", "--out", "gs://streampro/sliced")
    assert sliced["trajectories_written"] == 6 and sliced["dead_letters"] == 0 and sliced["items_accounted"]
    check = subprocess.run(
        [sys.executable, "-c", "from streampro.data.parquet import read_trajectories as r;"
         "print(sum(1 for s in ('sft','rl','bench') for _ in r(f'gs://streampro/sliced/{s}')), flush=True);"
         "import os; os._exit(0)"],  # skip interpreter teardown of the storage client's threads
        env=gcs, capture_output=True, text=True, check=True)
    assert check.stdout.strip().splitlines()[-1] == "6"


@pytest.mark.slow
def test_sft_trains_into_a_bucket_and_resumes_from_its_checkpoints_there(gcs, sliced_world, tiny_model, tmp_path):
    """A gs:// output (as a TrainJob's pods get it): the trainer works in a local staging folder, the result and
    its checkpoints are uploaded (the marker last), and a later run downloads the checkpoints and resumes."""
    import yaml

    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["sft"].update({"batch_size": 2, "save_steps": 1, "logging_steps": 1, **NO_CURRICULUM})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))

    def sft(steps: int) -> dict:
        run = subprocess.run([str(BIN / "streampro"), "sft", "--params", str(tmp_path / "params.yaml"), "--model",
                              str(tiny_model), "--trajectories", str(sliced_world / "sft"), "--out",
                              "gs://streampro/models/sft", "--max-steps", str(steps)],
                             env=gcs, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        return json.loads(run.stdout.strip().splitlines()[-1])

    first = sft(2)
    assert first["global_step"] == 2 and first["resumed_from"] is None
    listing = subprocess.run(
        [sys.executable, "-c", "from apache_beam.io.filesystems import FileSystems as F;"
         "print(sorted(m.path for m in F.match(['gs://streampro/models/sft/**'])[0].metadata_list), flush=True);"
         "import os; os._exit(0)"], env=gcs, capture_output=True, text=True, check=True).stdout
    assert "gs://streampro/models/sft/_COMPLETE.json" in listing and "model.safetensors" in listing
    assert "gs://streampro/models/sft/checkpoints/checkpoint-2/trainer_state.json" in listing
    second = sft(3)
    assert second["global_step"] == 3 and second["resumed_from"].endswith("checkpoint-2")
