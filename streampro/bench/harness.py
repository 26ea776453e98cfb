"""The streaming harness: replay each bench trajectory to a policy turn by turn and record its
responses, stamped by the time rule (a response in turn ``i`` at 1 fps has ``time = i``). Frames
come from the sliced Parquet, so no video is decoded again."""
from __future__ import annotations

from collections.abc import Iterable

from tqdm import tqdm

from streampro.policy import Policy, Stream, TurnInput, play
from streampro.schema import Prediction, Trajectory


def run_stream(policy: Policy, trajectory: Trajectory) -> Prediction:
    stream = Stream(trajectory.item_id, trajectory.video_id, trajectory.task, trajectory.fps, len(trajectory.turns))
    turns = (TurnInput(t.index, t.start, t.end, t.frame, t.user_text) for t in trajectory.turns)
    return Prediction(item_id=trajectory.item_id,
                      responses=[r for _, _, r in play(policy, stream, turns) if r is not None])


def run_policy(policy: Policy, trajectories: Iterable[Trajectory], total: int | None = None) -> list[Prediction]:
    return [run_stream(policy, t) for t in tqdm(trajectories, total=total, desc=f"bench {policy.name}", unit="stream")]
