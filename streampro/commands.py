"""The commands of the step table that are not DAG steps (``streampro/steps.py`` holds the table): each a
thin call of one library function. Imports stay inside the functions: a command loads only what it runs."""
from __future__ import annotations

import json
import os

from streampro.config import Params


def bench_run(params: Params, policy: str, trajectories: str, items: str, out: str,
              train_items: str | None = None) -> dict:
    """Replay the bench trajectories to one policy and write its predictions."""
    from streampro.bench.evaluate import run_policy_file
    from streampro.steps import model_options

    return {"predictions": run_policy_file(policy, trajectories, items, train_items, out, seed=params.seed,
                                           model_options=model_options(params))}


def bench_score(params: Params, items: str, predictions: str, out: str, judge: str | None = None) -> dict:
    """Score one predictions file with StreamPro-F1."""
    from streampro.bench.evaluate import score_file
    from streampro.bench.judges import judge_from

    return score_file(items, predictions, out, judge_from(params.bench, judge))


def ablate(params: Params, trajectories: str, items: str, rl_items: str, out: str, report: str) -> dict:
    """The paper's loss and stage ablations over training seeds, on one world."""
    from streampro.ablation import run_ablation

    return run_ablation(params, trajectories, items, rl_items, out, report)


def peers(format: str, annotations: str, out: str, video_root: str | None = None) -> dict:
    """Import a peer benchmark's annotations as bench items."""
    from streampro.bench.peers import import_peer, write_import

    return write_import(import_peer(annotations, format), out, video_root)


def export_stream(trajectories: str, manifest: str, out: str) -> dict:
    """Trajectories as ms-swift "stream" records."""
    from streampro.data.streamo import export_stream as export

    return {"records": export(trajectories, manifest, out)}


def stream(params: Params, model: str, video: str, question: str, query_time: float = 0.0, sample: bool = False,
           show_silence: bool = False) -> dict:
    """A trained model watches a video; its responses are printed as it plays."""
    import sys

    from streampro.data.video import live_turns
    from streampro.model.stream import StreamingModel
    from streampro.policy import Stream, play

    cfg = params.slice
    policy = StreamingModel.from_pretrained(model, window_turns=params.model.window_turns,  # first: fail fast
                                            max_new_tokens=params.model.max_new_tokens, do_sample=sample,
                                            seed=params.seed)
    turns = live_turns(video, cfg.sample_fps, cfg.frame_size, cfg.jpeg_quality, question, query_time)
    responses = []
    for turn, output, response in play(policy, Stream("live", video, "", cfg.sample_fps, len(turns)), turns):
        if response is not None:
            responses.append(response.model_dump())
        if response is not None:
            print(f"[{response.time:g}s] {response.text}", flush=True)
        elif show_silence:
            print(f"[{turn.start:g}s] (silent)", flush=True)
    print(f"{len(responses)} response(s) over {len(turns)} turns", file=sys.stderr)
    return {"responses": responses}


def submit(host: str | None, pipeline: str = "pipelines/full.py", experiment: str = "streampro",
           run_name: str | None = None, arguments: str | None = None, dry_run: bool = False,
           output: str | None = None) -> dict:
    """Compile a pipeline file and create a run on a Kubeflow Pipelines endpoint."""
    from streampro.submit import submit as submit_run

    host = host or os.environ.get("KFP_HOST")
    if not host and not dry_run:
        raise ValueError("--host (or $KFP_HOST) is required to submit")
    return submit_run(host, pipeline, experiment, run_name, json.loads(arguments) if arguments else None, dry_run,
                      output)


def steps(json: bool = False, markdown: bool = False, mermaid: bool = False) -> None:
    """Print the step table."""
    from streampro.steps import STEPS
    from streampro.steptable import mermaid as flowchart
    from streampro.steptable import table_markdown, table_rows

    rows = table_rows(STEPS)
    if mermaid:
        print(flowchart(STEPS))
    elif json:
        import json as json_module

        print(json_module.dumps(rows, indent=2))
    elif markdown:
        print(table_markdown(STEPS))
    else:
        for r in rows:
            print(f"{r['step']:13} {r['cli']:27} {r['entry']:32} dag: {r['tasks'] or '-'}  # {r['summary']}")
