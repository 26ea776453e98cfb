"""The streaming harness: replay each bench trajectory to a policy turn by turn and record its
responses, stamped by the time rule (a response in turn ``i`` at 1 fps has ``time = i``). Frames
come from the sliced Parquet, so no video is decoded again."""
from __future__ import annotations

from collections.abc import Iterable

from tqdm import tqdm

from streampro import protocol
from streampro.policy import Policy, Stream, TurnInput
from streampro.schema import Prediction, Response, Trajectory
from streampro.timing import response_time


def run_stream(policy: Policy, trajectory: Trajectory) -> Prediction:
    policy.reset(Stream(trajectory.item_id, trajectory.video_id, trajectory.task, trajectory.fps,
                        len(trajectory.turns)))
    responses = []
    for turn in trajectory.turns:
        output = policy.act(TurnInput(turn.index, turn.start, turn.end, turn.frame, turn.user_text))
        text = protocol.parse(output)
        if text is not None:
            responses.append(Response(time=response_time(turn.index, trajectory.fps), text=text))
    return Prediction(item_id=trajectory.item_id, responses=responses)


def run_policy(policy: Policy, trajectories: Iterable[Trajectory], total: int | None = None) -> list[Prediction]:
    return [run_stream(policy, t) for t in tqdm(trajectories, total=total, desc=f"bench {policy.name}", unit="stream")]
