"""``streampro sft`` and ``streampro stream``: training and trying the streaming model."""
from __future__ import annotations

import argparse
import sys

from streampro import steps
from streampro.config import Params


def add_parsers(sub, common) -> None:
    p = sub.add_parser(
        "sft", help="SFT of the streaming model with the CB-Stream loss (TRL SFTTrainer)",
        description="Fine-tune the model of params.yaml model.name_or_path ('tiny': a small Qwen2.5-VL built "
        "locally) on sliced trajectories in the streaming format, supervising only the assistant tokens, with "
        "sft.loss (ce | focal | cb_stream). Saves the model and processor to OUT, checkpoints every sft.save_steps "
        "under OUT/checkpoints, and resumes from the last one when re-run with the same settings.",
    )
    common(p)
    p.add_argument("--trajectories", required=True, help="training trajectories (a split folder of Parquet shards)")
    p.add_argument("--out", required=True, help="output folder for the model")
    p.add_argument("--eval-trajectories", default=None, help="held-out trajectories for the decision "
                   "probabilities logged while training (default: the last training streams)")
    p.add_argument("--plots", default=None, help="JSON log of step, loss and decision probabilities (dvc plots)")
    p.add_argument("--max-steps", type=int, default=None, help="override sft.max_steps")

    p = sub.add_parser(
        "grpo", help="GRPO of the SFT model with multi-grained rewards over whole streams (TRL GRPOTrainer)",
        description="From the SFT model, roll out each rl stream grpo.num_generations times turn by turn (KV cache, "
        "temperature grpo.temperature), reward each episode with R = w_fmt*R_fmt + w_turn*R_turn + w_traj*R_traj "
        "(grpo.reward_weights; R_turn with the universal tolerance grpo.tau; R_traj from the items' rubrics graded by "
        "bench.judge), and update the policy with TRL's GRPOTrainer; only the policy's own tokens carry loss. Each "
        "reward component is logged per step. Saves the model to OUT; resumes from OUT/checkpoints.",
    )
    common(p)
    p.add_argument("--model", required=True, help="the SFT model folder")
    p.add_argument("--trajectories", required=True, help="rl trajectories (a split folder of Parquet shards)")
    p.add_argument("--out", required=True, help="output folder for the model")
    p.add_argument("--plots", default=None, help="JSON log of the reward components per step (dvc plots)")
    p.add_argument("--max-steps", type=int, default=None, help="override grpo.max_steps")

    p = sub.add_parser(
        "rubrics", help="write rubric checkpoints for RL items that have none (openai judge, cached)",
        description="For each item of ITEMS without a rubric (every item with --force), the openai judge "
        "(bench.judge_url, bench.judge_model) writes 6-10 binary checkpoints (granularity, coherence, coverage) from "
        "the question and answers; calls are cached. Items that carry a rubric (the synthetic world's) are kept. "
        "Writes all items to OUT.",
    )
    common(p)
    p.add_argument("--items", required=True, help="items .jsonl (the rl split)")
    p.add_argument("--out", required=True, help="items .jsonl to write")
    p.add_argument("--force", action="store_true", help="rewrite rubrics that exist")

    p = sub.add_parser(
        "stream", help="watch a video with a streaming model and print its responses as it plays",
        description="Decode VIDEO at slice.sample_fps, feed it turn by turn to the model (KV cache, sliding window "
        "of model.window_turns), ask QUESTION at --query-time, and print every response with its time.",
    )
    common(p)
    p.add_argument("--model", required=True, help="a trained streaming model (folder or model id)")
    p.add_argument("--video", required=True, help="a video file (local or gs://)")
    p.add_argument("--question", required=True)
    p.add_argument("--query-time", type=float, default=0.0, help="when the question is asked (seconds)")
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--show-silence", action="store_true", help="also print the silent turns")


def handle(args: argparse.Namespace, params: Params) -> object:
    if args.command == "sft":
        return steps.sft(params, args.trajectories, args.out, args.eval_trajectories, args.plots, args.max_steps)
    if args.command == "rubrics":
        return steps.rubrics(params, args.items, args.out, args.force)
    if args.command == "grpo":
        return steps.grpo(params, args.model, args.trajectories, args.out, args.plots, args.max_steps)
    return stream_video(params, args)


def stream_video(params: Params, args: argparse.Namespace) -> dict:
    from streampro import protocol
    from streampro.data.video import encode_jpeg, sample_frames
    from streampro.model.stream import StreamingModel
    from streampro.timing import response_time, turn_label, turn_of

    video = sample_frames(args.video, params.slice.sample_fps, params.slice.frame_size)
    model = StreamingModel.from_pretrained(args.model, window_turns=params.model.window_turns,
                                           max_new_tokens=params.model.max_new_tokens, do_sample=args.sample,
                                           seed=params.seed)
    model.reset()
    model.fps = params.slice.sample_fps
    ask = turn_of(args.query_time, params.slice.sample_fps)
    responses = []
    for i, frame in enumerate(video.frames):
        output = model.step(encode_jpeg(frame, params.slice.jpeg_quality), turn_label(i, params.slice.sample_fps),
                            args.question if i == ask else "")
        t = response_time(i, params.slice.sample_fps)
        text = protocol.parse(output)
        if text is not None:
            responses.append({"time": t, "text": text})
        if text is not None or args.show_silence:
            print(f"[{t:6.1f}s] {output}", flush=True)
    print(f"{len(responses)} response(s) over {len(video.frames)} turns", file=sys.stderr)
    return {"responses": responses}
