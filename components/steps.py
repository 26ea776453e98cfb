"""The step components. Imports live inside the functions: KFP ships each function's source alone."""
from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Markdown, Metrics, Model, Output

from components.images import CPU_IMAGE, GPU_IMAGE


@dsl.component(base_image=CPU_IMAGE)
def synth(params: dict, world: Output[Dataset]):
    """Render the synthetic video world (videos, manifest, items per split)."""
    from streampro import steps
    from streampro.config import params_from_dict

    summary = steps.synth(params_from_dict(params, "pipeline params"), world.path)
    world.metadata.update({"videos": summary["videos"], **{f"items_{k}": v for k, v in summary["items"].items()}})


@dsl.component(base_image=CPU_IMAGE)
def ingest(params: dict, annotations: dict, video_root: str, world: Output[Dataset]):
    """Streamo raw annotations, one file per split ({"sft": uri, "rl": uri, "bench": uri}) → one world
    (manifest and items per split), own data instead of the synthetic world."""
    from streampro.config import params_from_dict
    from streampro.data.streamo import ingest_splits

    summary = ingest_splits(dict(annotations), params_from_dict(params, "pipeline params").ingest, world.path,
                            video_root or None)
    world.metadata.update({k: v for k, v in summary.items() if isinstance(v, int)})


@dsl.component(base_image=CPU_IMAGE)
def rubrics(params: dict, world: Input[Dataset], rl_items: Output[Dataset]):
    """Rubric checkpoints for RL items without them (openai judge, offline, cached); others are kept."""
    import os

    from streampro import steps
    from streampro.config import params_from_dict

    summary = steps.rubrics(params_from_dict(params, "pipeline params"), os.path.join(world.path, "items", "rl.jsonl"),
                            rl_items.path)
    rl_items.metadata.update(summary)


@dsl.component(base_image=CPU_IMAGE)
def slice_videos(params: dict, world: Input[Dataset], rl_items: Input[Dataset], trajectories: Output[Dataset],
                 beam_args: list = []):
    """Decode videos into labelled trajectories with Apache Beam (DirectRunner here; pass Dataflow options
    in beam_args to fan out)."""
    import os

    from streampro import steps
    from streampro.config import params_from_dict

    items = [os.path.join(world.path, "items", "sft.jsonl"), rl_items.path, os.path.join(world.path, "items", "bench.jsonl")]
    summary = steps.slice(params_from_dict(params, "pipeline params"), os.path.join(world.path, "manifest.jsonl"),
                          trajectories.path, items=items, beam_args=list(beam_args))
    trajectories.metadata.update({k: v for k, v in summary.items() if isinstance(v, (int, float, bool))})


@dsl.component(base_image=GPU_IMAGE)
def sft(params: dict, trajectories: Input[Dataset], model: Output[Model], metrics: Output[Metrics]):
    """SFT with the CB-Stream loss (TRL SFTTrainer)."""
    import os

    from streampro import steps
    from streampro.config import params_from_dict

    summary = steps.sft(params_from_dict(params, "pipeline params"), os.path.join(trajectories.path, "sft"),
                        model.path, eval_trajectories=os.path.join(trajectories.path, "rl"))
    for key in ("global_step", "train_loss", "p_response_right", "p_response_elsewhere"):
        metrics.log_metric(key, summary[key])
    model.metadata.update({"loss": summary["loss"], "global_step": summary["global_step"]})


@dsl.component(base_image=GPU_IMAGE)
def grpo(params: dict, sft_model: Input[Model], trajectories: Input[Dataset], model: Output[Model],
         metrics: Output[Metrics]):
    """GRPO with the multi-grained rewards over whole streams (TRL GRPOTrainer)."""
    import os

    from streampro import steps
    from streampro.config import params_from_dict

    summary = steps.grpo(params_from_dict(params, "pipeline params"), sft_model.path,
                         os.path.join(trajectories.path, "rl"), model.path)
    metrics.log_metric("global_step", summary["global_step"])
    for when in ("first", "last"):
        for key, value in (summary.get(f"rewards_{when}") or {}).items():
            if key != "step":
                metrics.log_metric(f"reward_{key}_{when}", value)


@dsl.component(base_image=GPU_IMAGE)
def bench(params: dict, trajectories: Input[Dataset], world: Input[Dataset], policies: list, results: Output[Dataset],
          metrics: Output[Metrics], model: Input[Model] = None):
    """Run and score policies on the bench split; ``model`` is played as ``model:PATH`` when given."""
    import os

    from streampro import steps
    from streampro.config import params_from_dict

    names = [f"model:{model.path}" if p == "model" else p for p in policies]  # folder: model-<artifact name>
    scored = steps.bench(params_from_dict(params, "pipeline params"), os.path.join(trajectories.path, "bench"),
                         os.path.join(world.path, "items", "bench.jsonl"), results.path,
                         train_items=os.path.join(world.path, "items", "sft.jsonl"), policies=names)
    for name, m in scored.items():
        label = "model" if name.startswith("model:") else name
        for key in ("overall_w_avg", "overall_avg", "PU_f1", "TR_f1", "PA_f1"):
            if key in m:
                metrics.log_metric(f"{label}.{key}", m[key])


@dsl.component(base_image=CPU_IMAGE)
def report(params: dict, baselines: Input[Dataset], sft_bench: Input[Dataset], grpo_bench: Input[Dataset],
           metrics: Output[Metrics], html: Output[HTML], markdown: Output[Markdown], table: Output[Dataset]):
    """One table comparing every policy scored, as Metrics, HTML and Markdown the Kubeflow UI renders."""
    import os
    import shutil

    from streampro import steps
    from streampro.config import params_from_dict

    combined = steps.report(params_from_dict(params, "pipeline params"),
                            [baselines.path, sft_bench.path, grpo_bench.path], table.path)
    for policy, m in combined.items():
        for key in ("overall_w_avg", "overall_avg"):
            if key in m:
                metrics.log_metric(f"{policy}.{key}", m[key])
    shutil.copy(os.path.join(table.path, "report.html"), html.path)
    shutil.copy(os.path.join(table.path, "report.md"), markdown.path)
