"""Streaming inference: the model watches turn by turn and decides each turn, reusing its KV cache.

Each new turn only encodes its new tokens (the end of the previous answer, the user turn with its
frame, the assistant header); the generated tokens join the cache as they are produced. A sliding
window keeps the system prompt and the last ``window_turns`` turns: older turns' keys and values are
dropped from the cache, and every kept token keeps the (multimodal RoPE) position it was encoded at.
Eviction is exact: when the stream outgrows the window, the oldest ``evict_stride`` turns go at
once and the cache is rebuilt from the kept turns, so no kept key or value carries information from
an evicted turn (cost: one re-encode of the window every ``evict_stride`` turns).
``use_cache=False`` recomputes the same windowed context from scratch at every step (same tokens,
same positions), the reference that the cached path must agree with.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from streampro.model.format import StreamFormat, jpeg_image
from streampro.policy import Policy, Stream, TurnInput
from streampro.timing import turn_label


@dataclass
class _Turn:
    ids: list[int]
    pos: torch.Tensor  # (3, L) multimodal RoPE positions
    mm: list[int]  # mm_token_type_ids
    pixel_values: torch.Tensor | None = None
    grid: torch.Tensor | None = None
    extra: list[int] = field(default_factory=list)  # generated tokens fed after the turn's input
    n_pending: int = 0  # leading tokens that close the previous turn (its last token, end of turn)

    def __len__(self) -> int:
        return len(self.ids) + len(self.extra)


class StreamingModel(Policy):
    """A transformers Qwen2.5-VL-family model as a streaming policy (``model:PATH`` in the harness)."""

    def __init__(self, model, processor, window_turns: int = 200, do_sample: bool = False, temperature: float = 1.0,
                 max_new_tokens: int = 24, use_cache: bool = True, seed: int = 0, name: str = "model",
                 evict_stride: int | None = None):
        self.model, self.processor = model.eval(), processor
        self.fmt = StreamFormat(processor)
        self.window, self.do_sample, self.temperature = window_turns, do_sample, temperature
        self.stride = evict_stride or max(1, window_turns // 4)
        self.max_new_tokens, self.use_cache, self.name = max_new_tokens, use_cache, name
        self.generator = torch.Generator().manual_seed(seed)
        self.device = next(model.parameters()).device
        self.tokens_encoded = 0  # tokens pushed through the model (the cost the cache saves)
        self.decision_logits: list[torch.Tensor] = []  # per turn, the logits of its first output token

    @classmethod
    def from_pretrained(cls, path: str, **kwargs) -> "StreamingModel":
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        try:
            model = Qwen2_5_VLForConditionalGeneration.from_pretrained(path, dtype=dtype).to(device)
            processor = AutoProcessor.from_pretrained(path)
        except (OSError, ValueError) as exc:  # no such folder, not a model id, no hub access
            raise FileNotFoundError(f"cannot load the model {path!r}: {str(exc).strip().splitlines()[0][:300]}") from None
        return cls(model, processor, name=f"model:{path}", **kwargs)

    # --- policy interface ---------------------------------------------------------------------------
    def reset(self, stream: Stream | None = None) -> None:
        self.fps = stream.fps if stream else 1.0
        ids = self.processor.tokenizer(self.fmt.system_text, add_special_tokens=False)["input_ids"]
        self.system = _Turn(ids, torch.arange(len(ids)).expand(3, -1).clone(), [0] * len(ids))
        self.turns: list[_Turn] = []
        self.next_pos = len(ids)
        self.pending: list[int] = []
        self.cache = None
        if self.use_cache:
            self.cache = self._new_cache()
            self._forward([self.system], cache=True)

    def act(self, turn: TurnInput) -> str:
        return self.step(turn.frame, turn_label(turn.index, self.fps), turn.user_text)

    # --- one turn -----------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, frame: bytes, label: str, question: str = "") -> str:
        record = self._encode_turn(frame, label, question)
        self.turns.append(record)
        evicted = len(self.turns) > self.window
        if evicted:
            self.turns = self.turns[max(len(self.turns) - self.window, self.stride):]
        if not self.use_cache:
            logits = self._forward([self.system, *self.turns])
        elif evicted:  # rebuild the cache from the kept turns
            self.cache = self._new_cache()
            logits = self._forward([self.system, *self.turns], cache=True)
        else:
            logits = self._forward([record], cache=True)
        self.decision_logits.append(logits.float().cpu())
        generated: list[int] = []
        for _ in range(self.max_new_tokens):
            token = self._choose(logits)
            generated.append(token)
            if token == self.fmt.end_id or len(generated) == self.max_new_tokens:
                break
            self._append(record, token)
            logits = self._forward_token(token) if self.use_cache else self._forward([self.system, *self.turns])
        # The last chosen token and the rest of the end-of-turn text open the next turn's input.
        close = self.processor.tokenizer(self.fmt.close_suffix, add_special_tokens=False)["input_ids"]
        last = generated[-1]
        self.pending = close if last == self.fmt.end_id else [last, *close]
        self.last_generated = generated
        text_ids = [t for t in generated if t != self.fmt.end_id]
        return self.processor.tokenizer.decode(text_ids, skip_special_tokens=False).strip()

    def _encode_turn(self, frame: bytes, label: str, question: str) -> _Turn:
        enc = self.processor(text=[self.fmt.user_text(label, question)], images=[jpeg_image(frame)], return_tensors="pt")
        n_pending = len(self.pending)
        ids = self.pending + enc["input_ids"][0].tolist()
        mm = [0] * len(self.pending) + enc["mm_token_type_ids"][0].tolist()
        pos, _ = self.model.model.get_rope_index(
            torch.tensor([ids]), mm_token_type_ids=torch.tensor([mm]), image_grid_thw=enc["image_grid_thw"])
        pos = pos[:, 0, :] + self.next_pos
        self.next_pos = int(pos.max()) + 1
        self.pending = []
        return _Turn(ids, pos, mm, enc["pixel_values"], enc["image_grid_thw"], n_pending=n_pending)

    def _append(self, record: _Turn, token: int) -> None:
        record.extra.append(token)
        record.pos = torch.cat([record.pos, torch.full((3, 1), self.next_pos)], dim=1)
        record.mm.append(0)
        self.next_pos += 1

    def _choose(self, logits: torch.Tensor) -> int:
        logits = logits.float().clone()
        logits[self.fmt.suppress_ids] = float("-inf")
        if not self.do_sample:
            return int(logits.argmax())
        probs = torch.softmax(logits / self.temperature, dim=-1).cpu()
        return int(torch.multinomial(probs, 1, generator=self.generator))

    # --- model calls --------------------------------------------------------------------------------
    def _new_cache(self):
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def _forward(self, records: list[_Turn], cache: bool = False) -> torch.Tensor:
        ids = [t for r in records for t in (r.ids + r.extra)]
        pos = torch.cat([r.pos for r in records], dim=1)
        pixels = [r.pixel_values for r in records if r.pixel_values is not None]
        grids = [r.grid for r in records if r.grid is not None]
        kwargs = {}
        if pixels:
            kwargs = {"pixel_values": torch.cat(pixels).to(self.device, self.model.dtype),
                      "image_grid_thw": torch.cat(grids).to(self.device)}
        self.tokens_encoded += len(ids)
        out = self.model(
            input_ids=torch.tensor([ids], device=self.device), position_ids=pos[:, None, :].to(self.device),
            mm_token_type_ids=torch.tensor([[m for r in records for m in r.mm]], device=self.device),
            cache=self.cache if cache else None, use_cache=cache, logits_to_keep=1, **kwargs)
        return out.logits[0, -1]

    def _forward_token(self, token: int) -> torch.Tensor:
        self.tokens_encoded += 1
        pos = self.turns[-1].pos[:, -1:]
        out = self.model(input_ids=torch.tensor([[token]], device=self.device), position_ids=pos[:, None, :].to(self.device),
                         cache=self.cache, use_cache=True, logits_to_keep=1)
        return out.logits[0, -1]
