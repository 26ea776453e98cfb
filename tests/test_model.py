"""The streaming format over the real Qwen2.5-VL processor, and KV-cached streaming inference."""
import pytest
import torch
from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

from streampro import protocol
from streampro.data.parquet import read_trajectories
from streampro.model.format import IGNORE, StreamFormat
from streampro.model.stream import StreamingModel
from streampro.policy import Stream, TurnInput
from streampro.train.sft import windows


@pytest.fixture(scope="module")
def loaded(tiny_model):
    return Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model), AutoProcessor.from_pretrained(tiny_model)


def test_special_tokens_and_config(loaded):
    model, processor = loaded
    tok = processor.tokenizer
    for token in (protocol.SILENCE, protocol.RESPONSE, "<|image_pad|>", "<|im_end|>"):
        assert len(tok(token, add_special_tokens=False)["input_ids"]) == 1
    rope = model.config.text_config.rope_parameters
    head_dim = model.config.text_config.hidden_size // model.config.text_config.num_attention_heads
    assert sum(rope["mrope_section"]) == head_dim // 2


def test_a_turn_time_is_the_same_token_in_the_label_and_in_an_answer(loaded):
    tok = loaded[1].tokenizer
    ids = lambda text: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    for number in ("4", "11", "27"):
        (token,) = ids(number)  # a number is one token ...
        assert token in ids(f"<{number}s-{int(number) + 1}s>")  # ... in the turn label
        assert token in ids(f"</Response> from 3s to {number}s")  # ... and in a TG answer: naming it is a copy
    assert tok.decode(ids("</Response> from 3s to 11s")) == "</Response> from 3s to 11s"


def test_only_assistant_tokens_are_supervised(loaded, sliced_world):
    model, processor = loaded
    fmt = StreamFormat(processor)
    traj = next(iter(read_trajectories(str(sliced_world / "bench"))))
    batch = fmt.encode([windows(traj, 30)[0]])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    n_turns = len(traj.turns)
    # one image block per turn, 4 placeholder tokens per 56x56 frame, matching the image grid
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((ids == image_id).sum()) == n_turns * 4 == int(batch["image_grid_thw"].prod(-1).sum()) // 4
    positions = fmt.decision_positions(batch["labels"])[0]
    assert len(positions) == n_turns
    decisions = [int(labels[p]) for p in positions]
    expected = [fmt.response_id if t.target.startswith(protocol.RESPONSE) else fmt.silence_id for t in traj.turns]
    assert decisions == expected
    supervised = processor.tokenizer.decode(ids[labels != IGNORE])
    assert supervised == "".join(t.target + "<|im_end|>" for t in traj.turns)
    out = model(**{k: v for k, v in batch.items() if k != "labels"})
    assert out.logits.shape[1] == ids.shape[0]


@pytest.mark.parametrize("window", [30, 5])
def test_kv_cache_gives_the_same_decisions_as_recomputing(loaded, sliced_world, window):
    model, processor = loaded
    traj = next(iter(read_trajectories(str(sliced_world / "bench"))))
    runs = {}
    for use_cache in (True, False):
        policy = StreamingModel(model, processor, window_turns=window, use_cache=use_cache, max_new_tokens=3)
        policy.reset(Stream(traj.item_id, traj.video_id, traj.task, traj.fps, len(traj.turns)))
        outputs = [policy.act(TurnInput(t.index, t.start, t.end, t.frame, t.user_text)) for t in traj.turns]
        runs[use_cache] = (outputs, torch.stack(policy.decision_logits), policy.tokens_encoded, len(policy.turns))
    (cached, cached_logits, cached_cost, kept), (fresh, fresh_logits, fresh_cost, _) = runs[True], runs[False]
    assert cached == fresh
    assert torch.allclose(cached_logits, fresh_logits, atol=1e-4)
    assert kept == min(window, len(traj.turns))  # the window slid
    assert cached_cost < fresh_cost / 3


def test_a_stream_played_again_reuses_its_encoded_turns_and_plays_the_same(loaded, sliced_world):
    model, processor = loaded
    traj = next(iter(read_trajectories(str(sliced_world / "bench"))))
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return processor(*args, **kwargs)

    def play(policy):
        policy.reset(Stream(traj.item_id, traj.video_id, traj.task, traj.fps, len(traj.turns)))
        outputs = [policy.act(TurnInput(t.index, t.start, t.end, t.frame, t.user_text)) for t in traj.turns]
        return outputs, torch.stack(policy.decision_logits[-len(traj.turns):])

    policy = StreamingModel(model, processor, max_new_tokens=3)
    first = play(policy)
    policy.processor = counted  # the tokenizer is still reached through processor.tokenizer
    counted.tokenizer = processor.tokenizer
    again = play(policy)
    assert calls == [] and len(policy.encoded) == len(traj.turns)
    assert again[0] == first[0] and torch.equal(again[1], first[1])


class _ScriptedVLM:
    """A stand-in VLM whose answer per call is scripted: the offline protocol must turn it into responses."""

    device = torch.device("cpu")

    def __init__(self, tokenizer, answers):
        self.tokenizer, self.answers, self.calls = tokenizer, list(answers), 0

    def eval(self):
        return self

    def generate(self, input_ids, max_new_tokens, **kwargs):
        answer = self.answers[self.calls]
        self.calls += 1
        new = self.tokenizer(answer, add_special_tokens=False, return_tensors="pt")["input_ids"]
        return torch.cat([input_ids, new], dim=1)


def test_offline_protocol_runs_through_the_harness(loaded, sliced_world):
    """Under the "Wait" protocol: silent before the question; from it on, a response only when the model's
    answer is new (not "Wait", not the last answer again), at the turn it was given."""
    from streampro.bench.harness import run_stream
    from streampro.model.offline import OfflinePolicy

    _, processor = loaded
    traj = next(t for t in read_trajectories(str(sliced_world / "bench")) if t.turns[0].user_text == "")
    asked = next(t.index for t in traj.turns if t.user_text)
    script = ["Wait", "red square", "red square", "Wait.", "blue circle", "red square"]
    script += ["blue circle"] * (len(traj.turns) - asked - len(script))
    vlm = _ScriptedVLM(processor.tokenizer, script)
    prediction = run_stream(OfflinePolicy(vlm, processor, max_frames=3, max_new_tokens=4), traj)
    assert vlm.calls == len(traj.turns) - asked  # asked only from the question on
    assert [(r.time, r.text) for r in prediction.responses] == [
        (asked + 1.0, "red square"), (asked + 4.0, "blue circle"), (asked + 5.0, "red square"),
        (asked + 6.0, "blue circle")]


def test_the_window_keeps_the_last_turns_and_the_question(loaded, sliced_world):
    """Past the window the context is the system prompt and exactly the last N turns; once the question's
    own turn has left, the first kept turn carries it (as an SFT window does)."""
    model, processor = loaded
    traj = next(t for t in read_trajectories(str(sliced_world / "bench"))
                if 1 <= next(k for k, u in enumerate(t.turns) if u.user_text) < len(t.turns) - 6)
    question = next(t.user_text for t in traj.turns if t.user_text)
    asked = next(t.index for t in traj.turns if t.user_text)
    window = 3
    policy = StreamingModel(model, processor, window_turns=window, max_new_tokens=2)
    policy.reset(Stream(traj.item_id, traj.video_id, traj.task, traj.fps, len(traj.turns)))
    for t in traj.turns:
        policy.act(TurnInput(t.index, t.start, t.end, t.frame, t.user_text))
        kept = [r.source[1] for r in policy.turns]
        assert kept == [f"<{i}s-{i + 1}s>" for i in range(max(0, t.index - window + 1), t.index + 1)]
        first = processor.tokenizer.decode(policy.turns[0].ids)
        if t.index - window + 1 > asked:  # the question's turn has left the window
            assert question in first
        context = processor.tokenizer.decode([i for r in policy.turns for i in r.ids + r.extra])
        assert context.count(question) == (1 if t.index >= asked else 0)  # in context once, from its turn on
        positions = torch.cat([policy.system.pos, *[r.pos for r in policy.turns]], dim=1)[0]
        assert int(positions[0]) == 0 and bool((positions[1:] >= positions[:-1]).all())  # a fresh conversation
