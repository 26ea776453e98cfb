"""Typed view of ``params.yaml``, the project's one configuration source.

The dvc stages, the CLI and the KFP pipeline's defaults all read the same file through
:func:`load_params`. A profile (``profiles/paper.yaml``) is a partial file laid over it, for
runs at the paper's settings. Unknown keys and wrong types are errors that name the file
and the field, so a typo never silently falls back to a default.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

DEFAULT_PARAMS = "params.yaml"


class ConfigError(ValueError):
    """A params file that cannot be used, with the file and field that is wrong."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # no .inf / .nan settings

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and cls.model_fields[info.field_name].annotation in (int, float):
            raise ValueError(f"expected a number, got the boolean {str(value).lower()}")
        return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error (not: the last one wins)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


class SplitSizes(_Section):
    sft: int = Field(700, ge=0)
    rl: int = Field(70, ge=0)
    bench: int = Field(70, ge=0)

    def as_dict(self) -> dict[str, int]:
        return {"sft": self.sft, "rl": self.rl, "bench": self.bench}


class SynthParams(_Section):
    """The procedurally generated video world (the embedded default dataset)."""

    videos: SplitSizes = SplitSizes()
    min_duration: int = Field(20, ge=20, description="shortest video, whole seconds")
    max_duration: int = Field(30, ge=20, description="longest video, whole seconds")
    fps: int = Field(2, ge=1, le=60, description="frame rate of the rendered MP4 files")
    size: int = Field(128, ge=32, le=1024, description="frame width and height in pixels")
    tasks: list[str] = ["EU", "OU", "AA", "TP", "TG", "GP", "RF"]

    @model_validator(mode="after")
    def _durations(self) -> "SynthParams":
        if self.max_duration < self.min_duration:
            raise ValueError("max_duration must be >= min_duration")
        return self


class SliceParams(_Section):
    sample_fps: float = Field(1.0, gt=0)
    frame_size: int = Field(56, ge=28)
    jpeg_quality: int = Field(90, ge=10, le=100)


class IngestParams(_Section):
    """Streamo raw annotations → items: which task each Streamo ``task_type`` becomes."""

    task_map: dict[str, str] = {
        "event_caption": "EU", "dense_caption": "EU", "narration": "EU", "event_grounding": "TG",
        "temporal_grounding": "TG", "time_sensitive_qa": "OU", "anomaly": "AA", "planning": "GP",
    }
    default_task: str | None = Field(None, description="task for task types not in task_map (else dead letter)")
    split: Literal["sft", "rl", "bench"] = "sft"


class ModelParams(_Section):
    name_or_path: str = Field("tiny", description="'tiny' builds a small Qwen2.5-VL from a config")
    window_turns: int = Field(30, ge=1, description="sliding window of the last N turns")
    max_new_tokens: int = Field(24, ge=1, description="longest output of one turn")
    init_std: float = Field(0.06, gt=0, description="'tiny' only: the std of its initial weights (Qwen's "
                            "initializer_range is 0.02; the tiny model learns the copy sooner at 0.06)")


class CurriculumPhase(_Section):
    """One phase before SFT proper (streampro/train/curriculum.py): ``steps`` steps on the windows of
    ``tasks`` cut ``short`` (the question's turn and the first answer's turn), ``thinned`` (a random share
    of the turns between them dropped) or ``full`` (whole windows: one task's timing, before the mix)."""

    tasks: list[str] = Field(min_length=1, description="the tasks whose windows the phase trains on")
    cut: Literal["short", "thinned", "full"]
    steps: int = Field(ge=1)
    vision_lr_scale: float | None = Field(None, ge=0, description="the vision tower's learning rate in this phase "
                                          "as a share of sft.learning_rate (0: frozen; null: sft.vision_lr_scale)")


# The embedded default: grow a copy head on OU (short, then thinned), then spread it to EU; AA's thinned windows
# in the thinned phases keep the model reading its frames (docs/model.md, "Copy and look").
DEFAULT_CURRICULUM = [CurriculumPhase(tasks=["OU"], cut="short", steps=400),
                      CurriculumPhase(tasks=["OU", "AA", "TG"], cut="thinned", steps=500),
                      CurriculumPhase(tasks=["EU", "AA", "TG"], cut="thinned", steps=500)]


class SFTParams(_Section):
    loss: Literal["ce", "focal", "cb_stream"] = "cb_stream"
    beta: float = Field(0.9999, ge=0.0, lt=1.0)
    lambda_text: float = Field(2.0, ge=0.0)
    focal_gamma: float = Field(2.0, ge=0.0)
    learning_rate: float = Field(3e-3, gt=0)
    max_steps: int = Field(500, ge=1)
    batch_size: int = Field(4, ge=1, description="per device; global batch = batch_size x accumulation x ranks")
    gradient_accumulation_steps: int = Field(1, ge=1)
    distributed: Literal["ddp", "fsdp"] = Field("ddp", description="under torchrun: replicate (ddp) or shard (fsdp)")
    weight_decay: float = Field(0.0, ge=0)
    vision_lr_scale: float = Field(1.0, ge=0, description="the vision tower's learning rate as a share of "
                                   "learning_rate (0 freezes it)")
    logging_steps: int = Field(10, ge=1)
    save_steps: int = Field(200, ge=1)
    curriculum: list[CurriculumPhase] = Field(DEFAULT_CURRICULUM, description="copy phases before SFT proper, "
                                              "in order, for a model that cannot yet copy the question's object "
                                              "into its answers (the tiny one); [] for a pretrained checkpoint")


class RewardWeights(_Section):
    fmt: float = 0.1
    turn: float = 0.45
    traj: float = 0.45


class GRPOParams(_Section):
    num_generations: int = Field(4, ge=2)
    temperature: float = Field(0.7, gt=0)
    tau: float = Field(4.0, gt=0)
    beta: float = Field(0.0, ge=0)
    learning_rate: float = Field(1e-4, gt=0)
    max_steps: int = Field(30, ge=1)
    save_steps: int = Field(10, ge=1)
    streams_per_step: int = Field(2, ge=1, description="distinct rl streams per step and process, each rolled out "
                                  "num_generations times (the paper's global batch is 16)")
    probe_streams: int = Field(7, ge=0, description="a fixed set of up to this many rl streams (one per task "
                               "first) that the greedy policy plays before training and after it: its reward "
                               "there, like compared with like (0: no probe)")
    reward_weights: RewardWeights = RewardWeights()
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "batch", description="TRL's advantage scaling: each reward minus its stream's group mean, divided by "
                             "that group's std (group: GRPO as published), by the std over the whole batch "
                             "(batch), or not at all (none: Dr. GRPO)")


class BenchParams(_Section):
    policies: list[str] = ["silent", "every-turn", "random", "prior", "oracle"]
    judge: Literal["rule", "openai"] = "rule"
    judge_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://vllm:8000/v1")
    judge_model: str | None = None
    judge_cache: str = ".judge_cache"
    judge_api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")


class GPUPool(_Section):
    """Where the GPU steps (sft, grpo) run on the cluster: static at pipeline compile time."""

    resource: str = "nvidia.com/gpu"
    count: int = Field(1, ge=1)
    accelerator_label: str = "cloud.google.com/gke-accelerator"
    accelerator: str = "nvidia-h100-80gb"
    pool_label: str = "cloud.google.com/gke-nodepool"
    pool: str = "gpu-pool"
    toleration_key: str = "nvidia.com/gpu"


class Resources(_Section):
    """CPU and memory a Kubeflow task requests (Kubernetes quantities)."""

    cpu: str = Field("2", pattern=r"^\d+(\.\d+)?m?$")
    memory: str = Field("8Gi", pattern=r"^\d+(\.\d+)?([KMGT]i?)?$")


class TrainParams(_Section):
    """Training on many GPUs (the sft and grpo tasks): more than one GPU in all submits a Kubeflow Trainer
    TrainJob of ``nodes`` x ``gpus_per_node`` torchrun processes (streampro/trainjob.py)."""

    nodes: int = Field(1, ge=1)
    gpus_per_node: int = Field(1, ge=1)
    runtime: str = Field("torch-distributed", description="the ClusterTrainingRuntime the TrainJob runs on")
    namespace: str = "kubeflow"
    cpu: str = Field("16", description="CPU request per node")
    memory: str = Field("256Gi", description="memory request per node")
    poll_seconds: float = Field(30.0, gt=0)

    @property
    def total_gpus(self) -> int:
        return self.nodes * self.gpus_per_node


class OrchestrationParams(_Section):
    """Container images and cluster settings for the Kubeflow pipeline (no secrets here)."""

    cpu_image: str = "us-docker.pkg.dev/my-project/streampro/cpu:0.1.0"
    gpu_image: str = "us-docker.pkg.dev/my-project/streampro/gpu:0.1.0"
    gpu: GPUPool = GPUPool()
    train: TrainParams = TrainParams()
    resources: dict[str, Resources] = Field(
        default_factory=lambda: {"default": Resources(), "slice": Resources(cpu="4", memory="16Gi"),
                                 "prepare": Resources(cpu="4", memory="64Gi"), "sft": Resources(cpu="8", memory="64Gi"),
                                 "grpo": Resources(cpu="8", memory="64Gi"),
                                 "bench_sft": Resources(cpu="4", memory="32Gi"),
                                 "bench_grpo": Resources(cpu="4", memory="32Gi")},
        description="requests per task (its dvc stage name); 'default' for the others")

    @model_validator(mode="after")
    def _has_default(self) -> "OrchestrationParams":
        if "default" not in self.resources:
            raise ValueError("resources: needs a 'default' entry (the requests of every task not named)")
        return self
    judge_secret: str = Field("streampro-judge", description="Kubernetes secret holding the judge's API key")
    judge_secret_key: str = "api-key"


class AblationParams(_Section):
    """``streampro ablate``: the paper's ablations on the embedded world (streampro/ablation.py)."""

    seeds: list[int] = Field([0, 1, 2], min_length=1, description="training seeds (the world stays params' seed)")
    losses: list[Literal["ce", "focal", "cb_stream"]] = Field(["ce", "focal", "cb_stream"], min_length=1)
    grpo: bool = Field(True, description="also SFT (cb_stream) -> GRPO")


class Params(_Section):
    seed: int = 0
    max_dead_letter_share: float = Field(0.5, ge=0, le=1, description="a step fails when more of its inputs "
                                         "than this share end as dead letters (and when all of them do)")
    synth: SynthParams = SynthParams()
    slice: SliceParams = SliceParams()
    ingest: IngestParams = IngestParams()
    model: ModelParams = ModelParams()
    sft: SFTParams = SFTParams()
    grpo: GRPOParams = GRPOParams()
    bench: BenchParams = BenchParams()
    orchestration: OrchestrationParams = OrchestrationParams()
    ablation: AblationParams = AblationParams()


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``overlay`` laid over it, recursing into nested mappings."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path | str) -> dict[str, Any]:
    try:
        if "://" in str(path):  # a params file at gs:// (a TrainJob's pods read the pipeline's params there)
            from streampro import storage

            if not storage.exists(str(path)):
                raise FileNotFoundError(path)
            text = storage.read_text(str(path))
        else:
            text = Path(path).read_text()
        data = yaml.load(text, Loader=_UniqueKeyLoader) or {}  # noqa: S506 - a SafeLoader
    except FileNotFoundError:
        raise ConfigError(f"{path}: params file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def params_from_dict(data: dict[str, Any], source: str = "<params>") -> Params:
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


def load_params(path: str | Path | None = DEFAULT_PARAMS, profile: str | Path | None = None) -> Params:
    """Read ``params.yaml`` (and an optional profile laid over it) into typed params. With ``path`` None:
    ``params.yaml`` in the current folder when there is one, else the packaged defaults (the same values:
    the embedded default, a test keeps them equal)."""
    if path is None and not Path(DEFAULT_PARAMS).exists():
        data, source = Params().model_dump(mode="json"), "the packaged defaults"
        if profile:
            data, source = deep_merge(data, _read_yaml(Path(profile))), f"the packaged defaults + {profile}"
        return params_from_dict(data, source)
    path = path or DEFAULT_PARAMS
    path = path if "://" in str(path) else Path(path)
    data = _read_yaml(path)
    source = str(path)
    if profile:
        data = deep_merge(data, _read_yaml(Path(profile)))
        source = f"{path} + {profile}"
    return params_from_dict(data, source)
