"""The Kubeflow pipeline: compiled IR checked against params.yaml, and a whole local run (kfp.local)."""
import copy
import subprocess
import sys

import pytest
import yaml

from streampro.config import load_params
from tests.conftest import NO_CURRICULUM, REPO

sys.path.insert(0, str(REPO))  # components/ and pipelines/ are top-level folders of the repo

from pipelines.dag import DEFAULT_PARAMS  # noqa: E402
from pipelines.full import streampro_full  # noqa: E402

PARAMS = load_params(REPO / "params.yaml")
GPU_STEPS = {"sft", "grpo", "bench-2", "bench-3"}


@pytest.fixture(scope="module")
def ir(tmp_path_factory):
    from kfp import compiler

    path = tmp_path_factory.mktemp("ir") / "full.yaml"
    compiler.Compiler().compile(streampro_full, str(path))
    docs = list(yaml.safe_load_all(path.read_text()))
    return {"pipeline": docs[0], "platform": docs[1] if len(docs) > 1 else {}, "text": path.read_text()}


def test_every_step_in_order(ir):
    tasks = ir["pipeline"]["root"]["dag"]["tasks"]
    assert set(tasks) == {"synth", "rubrics", "slice", "prepare", "sft", "grpo", "bench", "bench-2", "bench-3", "report"}
    deps = {name: set(t.get("dependentTasks", [])) for name, t in tasks.items()}
    assert deps["rubrics"] == {"synth"} and deps["slice"] == {"synth", "rubrics"}
    assert deps["prepare"] == set() and deps["sft"] == {"prepare", "slice"}
    assert deps["grpo"] == {"sft", "slice", "rubrics"}
    assert deps["bench-2"] == {"sft", "slice", "synth"} and deps["bench-3"] == {"grpo", "slice", "synth"}
    assert deps["report"] == {"bench", "bench-2", "bench-3"}
    # each task shows the name of its dvc stage
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    shown = {t["taskInfo"]["name"] for t in tasks.values()}
    assert shown == {"synth", "rubrics", "slice", "prepare", "sft", "grpo", "bench", "bench_sft", "bench_grpo", "report"}
    assert shown <= set(stages)


def test_gpu_requests_and_node_pool_on_gpu_steps_only(ir):
    tasks = ir["pipeline"]["root"]["dag"]["tasks"]
    executors = ir["pipeline"]["deploymentSpec"]["executors"]
    platform = ir["platform"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    gpu = PARAMS.orchestration.gpu
    for name, task in tasks.items():
        executor = task["componentRef"]["name"].replace("comp-", "exec-")
        resources = executors[executor]["container"].get("resources", {})
        if name in GPU_STEPS:
            assert resources["accelerator"]["resourceType"] == gpu.resource
            assert int(resources["accelerator"]["resourceCount"]) == gpu.count
            assert platform[executor]["nodeSelector"]["labels"] == {gpu.accelerator_label: gpu.accelerator,
                                                                    gpu.pool_label: gpu.pool}
            assert platform[executor]["tolerations"][0]["key"] == gpu.toleration_key
        else:
            assert "accelerator" not in resources and executor not in platform
        # the GPU image only where a GPU is used: the baselines' bench runs in the CPU image
        image = PARAMS.orchestration.gpu_image if name in GPU_STEPS else PARAMS.orchestration.cpu_image
        assert executors[executor]["container"]["image"] == image


def test_every_task_requests_its_cpu_and_memory_from_params(ir):
    tasks = ir["pipeline"]["root"]["dag"]["tasks"]
    executors = ir["pipeline"]["deploymentSpec"]["executors"]
    resources = PARAMS.orchestration.resources
    for name, task in tasks.items():
        shown = task["taskInfo"]["name"]
        spec = executors[task["componentRef"]["name"].replace("comp-", "exec-")]["container"]["resources"]
        wanted = resources.get(shown, resources["default"])
        assert (spec["resourceCpuRequest"], spec["resourceMemoryRequest"]) == (wanted.cpu, wanted.memory), shown
    assert resources["sft"].memory == "64Gi" and "sft" in {t["taskInfo"]["name"] for t in tasks.values()}


def test_caching_on_for_deterministic_steps_only(ir):
    tasks = ir["pipeline"]["root"]["dag"]["tasks"]
    caching = {name: t["cachingOptions"].get("enableCache", False) for name, t in tasks.items()}
    assert caching == {"synth": True, "rubrics": True, "slice": True, "prepare": True, "sft": False, "grpo": False, "bench": True, "bench-2": True,
                       "bench-3": True, "report": True}


def test_inputs_are_params_yaml_sections_typed_with_its_defaults(ir):
    from pipelines.dag import used_sections
    from streampro.config import params_from_dict

    spec = ir["pipeline"]["root"]["inputDefinitions"]["parameters"]
    assert spec["seed"]["parameterType"] == "NUMBER_INTEGER" and spec["seed"]["defaultValue"] == PARAMS.seed
    assert spec["max_dead_letter_share"]["parameterType"] == "NUMBER_DOUBLE"
    dicts = {name[: -len("_params")]: s for name, s in spec.items() if name.endswith("_params")}
    assert all(s["parameterType"] == "STRUCT" for s in dicts.values())
    assert set(dicts) | {"seed", "max_dead_letter_share"} == set(used_sections("synth"))
    data = {**PARAMS.model_dump(mode="json"), **{k: s["defaultValue"] for k, s in dicts.items()}}
    assert params_from_dict(data) == PARAMS  # the defaults parse back into the same typed params


def _task_inputs(ir):
    """Per task, the pipeline inputs it reads (and so what its cache key depends on)."""
    return {name: {p["componentInputParameter"] for p in t["inputs"].get("parameters", {}).values()
                   if "componentInputParameter" in p} for name, t in ir["pipeline"]["root"]["dag"]["tasks"].items()}


def test_a_grpo_setting_leaves_the_synth_slice_and_sft_cache_keys_alone(ir, tmp_path):
    """Compile the pipeline with another GRPO learning rate: only the tasks that read grpo see a change."""
    from kfp import compiler, dsl

    from pipelines.full import streampro_full

    inputs = _task_inputs(ir)
    assert inputs["synth"] == {"seed", "synth_params"} and inputs["slice"] == {"slice_params", "max_dead_letter_share"}
    assert "grpo_params" not in inputs["sft"] | inputs["prepare"] | inputs["synth"] | inputs["slice"]
    assert "grpo_params" in inputs["grpo"]
    changed = {**DEFAULT_PARAMS["grpo"], "learning_rate": 1e-3}

    @dsl.pipeline(name="streampro-full")
    def other(grpo_params: dict = changed):
        streampro_full(grpo_params=grpo_params)

    compiler.Compiler().compile(other, str(tmp_path / "other.yaml"))
    doc = next(yaml.safe_load_all((tmp_path / "other.yaml").read_text()))
    same = ir["pipeline"]["components"]
    for task in ("synth", "slice", "sft", "prepare"):  # the same component spec and the same input values
        spec = ir["pipeline"]["root"]["dag"]["tasks"][task]["componentRef"]["name"]
        assert doc["components"][spec] == same[spec]
    assert doc["root"]["inputDefinitions"]["parameters"]["grpo_params"]["defaultValue"]["learning_rate"] == 1e-3


def test_committed_yaml_is_not_stale(ir):
    committed = (REPO / "pipelines" / "full.yaml").read_text()
    assert _documents(committed) == _documents(ir["text"]), \
        "pipelines/full.yaml is stale: run `kfp dsl compile --py pipelines/full.py --output pipelines/full.yaml`"


@pytest.mark.slow
def test_whole_pipeline_runs_locally(tmp_path):
    from kfp import local

    params = copy.deepcopy(DEFAULT_PARAMS)
    params["synth"]["videos"] = {"sft": 7, "rl": 2, "bench": 7}
    params["sft"].update({"max_steps": 4, "batch_size": 2, "logging_steps": 2, "save_steps": 100, **NO_CURRICULUM})
    params["grpo"].update({"max_steps": 1, "num_generations": 2})
    params["model"]["max_new_tokens"] = 8
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    metrics = streampro_full(synth_params=params["synth"], sft_params=params["sft"], grpo_params=params["grpo"],
                             model_params=params["model"]).output
    assert metrics.metadata["oracle.overall_w_avg"] == 100
    assert metrics.metadata["silent.overall_w_avg"] == 0
    assert {"model-sft.overall_w_avg", "model-grpo.overall_w_avg"} <= set(metrics.metadata)  # both models
    report = next(tmp_path.glob("streampro-full-*/report/markdown"))
    assert "| oracle | 100.0 |" in report.read_text()


def _documents(text):  # the IR itself; KFP's header comment lists the defaults in no fixed order
    docs = list(yaml.safe_load_all(text))
    docs[0].pop("sdkVersion", None)
    return docs


def test_compiles_with_the_kfp_cli(tmp_path, ir):
    out = tmp_path / "full.yaml"
    kfp_cli = str(__import__("pathlib").Path(sys.executable).parent / "kfp")
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}  # as in a fresh shell
    subprocess.run([kfp_cli, "dsl", "compile", "--py", "pipelines/full.py", "--output", str(out)], check=True,
                   capture_output=True, cwd=REPO, env=env)
    assert _documents(out.read_text()) == _documents(ir["text"])  # the same IR as the compiler API's


def test_streampro_submit_dry_run_compiles(tmp_path, ir):
    import shutil

    from streampro.cli import main

    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    shutil.copytree(REPO / "components", tmp_path / "components")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    tracked = (tmp_path / "pipelines" / "full.yaml").read_bytes()
    assert main(["submit", "--dry-run", "--pipeline", str(tmp_path / "pipelines" / "full.py"), "--output",
                 str(tmp_path / "compiled.yaml")]) == 0
    assert (tmp_path / "pipelines" / "full.yaml").read_bytes() == tracked  # the tracked file is left alone
    compiled = _documents((tmp_path / "compiled.yaml").read_text())
    assert compiled[0]["pipelineInfo"]["name"] == "streampro-full"
    assert set(compiled[0]["root"]["dag"]["tasks"]) == set(ir["pipeline"]["root"]["dag"]["tasks"])
    assert main(["submit"]) == 2  # no --host: a clear error, not a traceback


def test_submit_to_an_unreachable_host_is_a_clear_error(tmp_path, capsys):
    import socket

    from streampro.cli import main

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = (REPO / "pipelines" / "full.yaml").read_bytes()
    assert main(["submit", "--host", f"http://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"cannot create the run on http://127.0.0.1:{port}" in err and "Traceback" not in err
    assert (REPO / "pipelines" / "full.yaml").read_bytes() == before


def test_own_data_pipeline_swaps_synth_for_ingest(tmp_path):
    from kfp import compiler

    from pipelines.own_data import streampro_own_data

    path = tmp_path / "own.yaml"
    compiler.Compiler().compile(streampro_own_data, str(path))
    ir = next(yaml.safe_load_all(path.read_text()))
    tasks = ir["root"]["dag"]["tasks"]
    assert "ingest" in tasks and "synth" not in tasks
    assert tasks["rubrics"]["dependentTasks"] == ["ingest"]
    from pipelines.dag import used_sections

    named = {"seed", "max_dead_letter_share"}
    assert set(ir["root"]["inputDefinitions"]["parameters"]) == {"annotations", "video_root"} | {
        s if s in named else f"{s}_params" for s in used_sections("ingest")}
    assert tasks["ingest"]["inputs"]["parameters"]["annotations"]["componentInputParameter"] == "annotations"
    assert _documents((REPO / "pipelines" / "own_data.yaml").read_text()) == _documents(path.read_text()), \
        "pipelines/own_data.yaml is stale: recompile it"


def test_ingest_splits_builds_one_world(tmp_path):
    import json

    from streampro import storage
    from streampro.config import IngestParams
    from streampro.data.streamo import ingest_splits

    raw = REPO / "examples" / "streamo" / "annotations.json"
    summary = ingest_splits({"sft": str(raw), "bench": str(raw)}, IngestParams(), str(tmp_path / "world"))
    assert summary["records_read"] == 4 and summary["videos"] == 2
    assert len(storage.read_items(str(tmp_path / "world" / "items" / "sft.jsonl"))) == 3
    assert {i.split for i in storage.read_items(str(tmp_path / "world" / "items" / "bench.jsonl"))} == {"bench"}
    assert json.loads((tmp_path / "world" / "summary.json").read_text())["items"] == 6


def test_resources_for_a_task_that_does_not_exist_are_refused(monkeypatch):
    from kfp import dsl

    import pipelines.dag as dag
    from streampro.config import Resources

    monkeypatch.setattr(dag, "RESOURCES", {**dag.RESOURCES, "slicer": Resources()})
    with pytest.raises(ValueError, match=r"orchestration.resources names no task: \['slicer'\]"):
        @dsl.pipeline(name="typo")
        def typo(seed: int = 0):
            dag.assemble({**DEFAULT_PARAMS, "seed": seed}, world="synth")
