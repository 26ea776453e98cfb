"""Episodes for GRPO: the policy plays a whole stream turn by turn (KV cache, sampling), and the
episode is laid out as TRL wants it: prompt = system + the first user turn (with its frame) + the
assistant header; completion = everything after, with a mask that is 1 on the policy's own tokens
(its outputs and their end-of-turn token) and 0 on injected ones (each later user turn with its frame
placeholders, the assistant header, the newline after an end of turn). Every episode ends on the
end-of-turn token."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from streampro.model.format import jpeg_image
from streampro.model.stream import StreamingModel
from streampro.policy import Stream, TurnInput
from streampro.schema import Trajectory


@dataclass
class Episode:
    prompt_ids: list[int]
    completion_ids: list[int]
    mask: list[int]  # 1 = sampled by the policy (trained), 0 = injected
    turn_outputs: list[str]
    images: list  # every frame of the stream, in order (frame 0 is in the prompt)


def play_episode(policy: StreamingModel, trajectory: Trajectory) -> Episode:
    """Roll the policy out over the whole trajectory (its window must hold the whole stream)."""
    if policy.window < len(trajectory.turns):
        raise ValueError(f"{trajectory.item_id}: {len(trajectory.turns)} turns exceed the rollout window "
                         f"{policy.window}: episodes are not cut")
    policy.reset(Stream(trajectory.item_id, trajectory.video_id, trajectory.task, trajectory.fps, len(trajectory.turns)))
    end = policy.fmt.end_id
    close = policy.processor.tokenizer(policy.fmt.close_suffix, add_special_tokens=False)["input_ids"]
    prompt = list(policy.system.ids)
    completion, mask, outputs = [], [], []
    for k, turn in enumerate(trajectory.turns):
        with torch.no_grad():
            outputs.append(policy.act(TurnInput(turn.index, turn.start, turn.end, turn.frame, turn.user_text)))
        record = policy.turns[-1]
        user_ids = record.ids[record.n_pending:]
        if k == 0:
            prompt += user_ids
        else:
            closing = close[1:] if completion[-1] == end else close  # the end token was sampled, or is injected
            completion += closing + user_ids
            mask += [0] * (len(closing) + len(user_ids))
        completion += policy.last_generated
        mask += [1] * len(policy.last_generated)
    if completion[-1] != end:
        completion.append(end)
        mask.append(0)
    return Episode(prompt, completion, mask, outputs, [jpeg_image(t.frame) for t in trajectory.turns])
