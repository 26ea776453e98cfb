"""The paper's offline protocol, so that models without a streaming head can be benchmarked beside
streaming ones: from the question on, every turn the model sees the frames so far (the last
``max_frames``) and the question, and says "Wait" unless the evidence suffices; an answer counts as a
response only when it differs from the last one given."""
from __future__ import annotations

import torch

from streampro import protocol
from streampro.model.format import SUPPRESSED, jpeg_image
from streampro.policy import Policy, Stream, TurnInput

OFFLINE_PROMPT = (
    "You are watching a video as it plays; these are its frames so far, one per second. If they are enough to "
    "answer the question, answer it briefly. If not yet, reply with exactly: Wait"
)


class OfflinePolicy(Policy):
    def __init__(self, model, processor, max_frames: int = 8, max_new_tokens: int = 24, name: str = "offline"):
        self.model, self.processor, self.max_frames = model.eval(), processor, max_frames
        self.max_new_tokens, self.name = max_new_tokens, name
        tok = processor.tokenizer
        self.bad_words = [[i] for i in (tok.convert_tokens_to_ids(t) for t in SUPPRESSED) if i is not None and i >= 0]

    @classmethod
    def from_pretrained(cls, path: str, **kwargs) -> "OfflinePolicy":
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from streampro.model import runtime

        model = AutoModelForImageTextToText.from_pretrained(path, **runtime.load_kwargs()).to(runtime.device())
        return cls(model, AutoProcessor.from_pretrained(path), name=f"offline:{path}", **kwargs)

    def reset(self, stream: Stream) -> None:
        self.frames: list[bytes] = []
        self.question, self.last = "", None

    @torch.no_grad()
    def act(self, turn: TurnInput) -> str:
        self.frames.append(turn.frame)
        self.question = self.question or turn.user_text
        if not self.question:
            return protocol.SILENCE
        frames = self.frames[-self.max_frames:]
        content = [{"type": "image"} for _ in frames] + [{"type": "text", "text": f"{OFFLINE_PROMPT}\n{self.question}"}]
        text = self.processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                                  add_generation_prompt=True)
        enc = self.processor(text=[text], images=[jpeg_image(f) for f in frames], return_tensors="pt").to(self.model.device)
        out = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False, bad_words_ids=self.bad_words)
        answer = self.processor.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        if not answer or answer.lower().startswith("wait") or answer == self.last:
            return protocol.SILENCE
        self.last = answer
        return protocol.response(answer)
