"""The streaming chat format over a Hugging Face vision-language processor.

A stream is a conversation: the system prompt (the protocol), then per turn a user message with the
turn's label ``<Xs-Ys>``, the question at its turn, and that second's frame as one image block, and
an assistant message ``</Silence>`` or ``</Response> answer``. The model's own chat template renders
it, so the same code serves the tiny model and a real Qwen2.5-VL checkpoint. The pieces that
incremental (KV-cached) inference appends turn by turn are derived from that template once, so
training, inference and GRPO see identical token sequences.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import NamedTuple

import torch
from PIL import Image

from streampro import protocol
from streampro.model.prepare import decision_ids

IGNORE = -100
SUPPRESSED = ["<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|im_start|>",
              "<|endoftext|>"]


class StreamTurn(NamedTuple):
    """One turn as the model is trained on it."""

    label: str  # "<3s-4s>"
    question: str  # the question, in the turn it is asked ("" elsewhere)
    target: str  # "</Silence>" or "</Response> answer"
    frame: bytes  # JPEG


def jpeg_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def user_message(label: str, question: str = "") -> dict:
    text = f"{question}\n{label}\n" if question else f"{label}\n"
    return {"role": "user", "content": [{"type": "text", "text": text}, {"type": "image"}]}


def conversation(turns: list[tuple[str, str, str]], system: str = protocol.SYSTEM_PROMPT) -> list[dict]:
    """Messages for ``(label, question, target)`` turns."""
    messages = [{"role": "system", "content": [{"type": "text", "text": system}]}]
    for label, question, target in turns:
        messages.append(user_message(label, question))
        messages.append({"role": "assistant", "content": [{"type": "text", "text": target}]})
    return messages


@dataclass
class StreamFormat:
    """Token-level facts about a processor's chat template, and encoders built on them."""

    processor: object
    system: str = protocol.SYSTEM_PROMPT

    def __post_init__(self) -> None:
        tok = self.processor.tokenizer
        render = self.render
        sys_msgs = conversation([], self.system)
        self.system_text = render(sys_msgs)
        u = user_message("<0s-1s>")
        with_prompt = render(sys_msgs + [u], generation_prompt=True)
        without = render(sys_msgs + [u])
        self.header_text = with_prompt[len(without):]  # "<|im_start|>assistant\n"
        full = render(sys_msgs + [u, {"role": "assistant", "content": [{"type": "text", "text": "X"}]}])
        assert full.startswith(with_prompt), "the chat template is not append-only"
        self.close_suffix = full[len(with_prompt) + 1:]  # "<|im_end|>\n"
        self.header_ids = tok(self.header_text, add_special_tokens=False)["input_ids"]
        self.end_id = tok.convert_tokens_to_ids("<|im_end|>")
        ids = decision_ids(tok, getattr(tok, "name_or_path", None) or "the model")  # else: run `prepare`
        self.silence_id, self.response_id = ids[protocol.SILENCE], ids[protocol.RESPONSE]
        self._image_tokens: dict[tuple[int, int], int] = {}
        self.suppress_ids = [i for i in (tok.convert_tokens_to_ids(t) for t in SUPPRESSED) if i is not None and i >= 0]

    def render(self, messages: list[dict], generation_prompt: bool = False) -> str:
        return self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)

    def user_text(self, label: str, question: str = "") -> str:
        """One user turn plus the assistant header, as appended during streaming."""
        sys_msgs = conversation([], self.system)
        return self.render(sys_msgs + [user_message(label, question)], generation_prompt=True)[len(self.system_text):]

    # --- training -----------------------------------------------------------------------------------
    def encode(self, batch: list[list[StreamTurn]]) -> dict[str, torch.Tensor]:
        """Processor inputs for a batch of streams of turns, with ``labels`` on the assistant tokens only
        (the decision token, the answer and the end token)."""
        texts = [self.render(conversation([(t.label, t.question, t.target) for t in turns], self.system))
                 for turns in batch]
        images = [jpeg_image(t.frame) for turns in batch for t in turns]
        enc = self.processor(text=texts, images=images, return_tensors="pt", padding=True)
        enc["labels"] = self.assistant_labels(enc["input_ids"])
        return dict(enc)

    def token_count(self, turns: list[StreamTurn]) -> int:
        """How many tokens ``encode`` gives this stream (before padding), from its text alone: the rendered
        conversation's tokens, each image placeholder counted as the image tokens of a frame of its size."""
        text = self.render(conversation([(t.label, t.question, t.target) for t in turns], self.system))
        n_text = len(self.processor.tokenizer(text, add_special_tokens=False)["input_ids"])
        return n_text + len(turns) * (self.image_tokens(turns[0].frame) - 1) if turns else n_text

    def image_tokens(self, frame: bytes) -> int:
        """Placeholder tokens the processor gives one frame of this one's size."""
        image = jpeg_image(frame)
        if image.size not in self._image_tokens:
            grid = self.processor.image_processor(images=[image], return_tensors="pt")["image_grid_thw"]
            self._image_tokens[image.size] = int(grid.prod()) // self.processor.image_processor.merge_size ** 2
        return self._image_tokens[image.size]

    def assistant_labels(self, input_ids: torch.Tensor) -> torch.Tensor:
        labels = torch.full_like(input_ids, IGNORE)
        header, h = self.header_ids, len(self.header_ids)
        for row, ids in enumerate(input_ids.tolist()):
            n, i = len(ids), 0
            while True:
                try:
                    i = ids.index(header[0], i)
                except ValueError:
                    break
                if ids[i:i + h] != header:
                    i += 1
                    continue
                start = i + h
                try:
                    end = ids.index(self.end_id, start) + 1  # the end-of-turn token is supervised too
                except ValueError:
                    end = n
                labels[row, start:end] = input_ids[row, start:end]
                i = end
        return labels

    def decision_positions(self, labels: torch.Tensor) -> list[list[int]]:
        """Per row, the positions of the first supervised token of each assistant turn."""
        rows = []
        for lab in labels:
            sup = (lab != IGNORE).tolist()
            rows.append([k for k in range(len(sup)) if sup[k] and (k == 0 or not sup[k - 1])])
        return rows
