"""Streaming inference: the model watches turn by turn and decides each turn, reusing its KV cache.

Each new turn only encodes its new tokens (the end of the previous answer, the user turn with its
frame, the assistant header); the generated tokens join the cache as they are produced.

The window rule (the same context SFT trains on, ``streampro/train/sft.py`` ``windows``): the model
sees the system prompt and the last ``window_turns`` turns, always; when the question's own turn has
left the window, the first kept turn carries the question, so the system prompt and the question stay
in context for the whole stream. Once a stream is longer than the window, the context is rendered
afresh at every turn (positions from the system prompt on, as a training window is) and the cache is
rebuilt from it, so no kept key or value carries information from an evicted turn; the cost is one
encoding of the window per turn, only for streams longer than the window. ``use_cache=False``
recomputes the same context from scratch at every step, the reference the cached path must agree with.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from streampro.model.format import StreamFormat, jpeg_image
from streampro.policy import Policy, Stream, TurnInput
from streampro.timing import turn_label


ENCODED_TURNS = 512  # user turns whose processor output a StreamingModel keeps (oldest dropped first)


@dataclass
class _Turn:
    ids: list[int]
    pos: torch.Tensor  # (3, L) multimodal RoPE positions
    mm: list[int]  # mm_token_type_ids
    pixel_values: torch.Tensor | None = None
    grid: torch.Tensor | None = None
    extra: list[int] = field(default_factory=list)  # generated tokens fed after the turn's input
    n_pending: int = 0  # leading tokens that close the previous turn (its last token, end of turn)
    source: tuple = ()  # (frame, label, question): what the turn is re-encoded from
    generated: list[int] = field(default_factory=list)  # the turn's output tokens

    def __len__(self) -> int:
        return len(self.ids) + len(self.extra)


class StreamingModel(Policy):
    """A transformers Qwen2.5-VL or Qwen3-VL model as a streaming policy (``model:PATH`` in the harness)."""

    def __init__(self, model, processor, window_turns: int = 200, do_sample: bool = False, temperature: float = 1.0,
                 max_new_tokens: int = 24, use_cache: bool = True, seed: int = 0, name: str = "model"):
        self.model, self.processor = model.eval(), processor
        self.fmt = StreamFormat(processor)
        self.window, self.do_sample, self.temperature = window_turns, do_sample, temperature
        self.max_new_tokens, self.use_cache, self.name = max_new_tokens, use_cache, name
        self.generator = torch.Generator().manual_seed(seed)
        self.device = next(model.parameters()).device
        self.tokens_encoded = 0  # tokens pushed through the model (the cost the cache saves)
        self.decision_logits: list[torch.Tensor] = []  # per turn, the logits of its first output token
        self.encoded: dict[tuple, dict] = {}  # (frame, label, question) -> the processor's output (``_processed``)

    @classmethod
    def from_pretrained(cls, path: str, **kwargs) -> "StreamingModel":
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from streampro.model import runtime

        try:
            model = AutoModelForImageTextToText.from_pretrained(path, **runtime.load_kwargs()).to(runtime.device())
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
        self.question, self.asked = "", None  # the question and the turn it came in (its number in the stream)
        self.seen = 0  # turns of the stream so far
        self.cache = None
        if self.use_cache:
            self.cache = self._new_cache()
            self._forward([self.system], cache=True)

    def act(self, turn: TurnInput) -> str:
        return self.step(turn.frame, turn_label(turn.index, self.fps), turn.user_text)

    # --- one turn -----------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, frame: bytes, label: str, question: str = "") -> str:
        if question and self.asked is None:
            self.question, self.asked = question, self.seen
        self.seen += 1
        record = self._encode_turn(frame, label, question)
        record.source = (frame, label, question)
        self.turns.append(record)
        evicted = len(self.turns) > self.window
        if evicted:  # the last N turns, rendered afresh (the question in the first if its turn is gone)
            self.turns = self.turns[-self.window:]
            self._render_window()
            record = self.turns[-1]
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
        self.last_generated = record.generated = generated
        text_ids = [t for t in generated if t != self.fmt.end_id]
        return self.processor.tokenizer.decode(text_ids, skip_special_tokens=False).strip()

    def _processed(self, frame: bytes, label: str, question: str) -> dict:
        """The processor's tokens and pixels of one user turn, kept for the turns seen again: GRPO plays each
        stream ``num_generations`` times, and its reward probe twice (the last ``ENCODED_TURNS`` turns)."""
        key = (frame, label, question)
        if key not in self.encoded:
            if len(self.encoded) >= ENCODED_TURNS:
                self.encoded.pop(next(iter(self.encoded)))
            self.encoded[key] = self.processor(text=[self.fmt.user_text(label, question)], images=[jpeg_image(frame)],
                                               return_tensors="pt")
        return self.encoded[key]

    def _encode_turn(self, frame: bytes, label: str, question: str) -> _Turn:
        enc = self._processed(frame, label, question)
        n_pending = len(self.pending)
        ids = self.pending + enc["input_ids"][0].tolist()
        mm = [0] * len(self.pending) + enc["mm_token_type_ids"][0].tolist()
        pos, _ = self.model.model.get_rope_index(
            torch.tensor([ids]), mm_token_type_ids=torch.tensor([mm]), image_grid_thw=enc["image_grid_thw"])
        pos = pos[:, 0, :] + self.next_pos
        self.next_pos = int(pos.max()) + 1
        self.pending = []
        return _Turn(ids, pos, mm, enc["pixel_values"], enc["image_grid_thw"], n_pending=n_pending)

    def _render_window(self) -> None:
        """Re-encode the kept turns as a fresh conversation after the system prompt: positions from the
        system prompt on, the question in the first turn when its own turn has left the window."""
        close = self.processor.tokenizer(self.fmt.close_suffix, add_special_tokens=False)["input_ids"]
        first_index = self.seen - len(self.turns)
        self.next_pos, self.pending, rendered = len(self.system.ids), [], []
        for k, old in enumerate(self.turns):
            frame, label, question = old.source
            if k == 0 and self.asked is not None and self.asked < first_index:
                question = self.question
            record = self._encode_turn(frame, label, question)
            record.source, record.generated = old.source, old.generated
            for token in old.generated[:-1]:  # the tokens fed back while it answered
                self._append(record, token)
            if old.generated:
                last = old.generated[-1]
                self.pending = close if last == self.fmt.end_id else [last, *close]
            rendered.append(record)
        self.turns = rendered

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
