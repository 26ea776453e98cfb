"""A checkpoint with the real Qwen2.5-VL vocabulary (built offline): prepare adds the decision tokens;
every consumer refuses a tokenizer without them; the whole route runs on it."""
import json

import pytest
import torch
import yaml

from streampro.cli import main
from tests.conftest import NO_CURRICULUM, REPO


@pytest.fixture(scope="module")
def real_vocab(tmp_path_factory):
    from streampro.model.qwen_vocab import build_real_vocab_checkpoint

    return build_real_vocab_checkpoint(str(tmp_path_factory.mktemp("qwen") / "base"))


@pytest.fixture(scope="module")
def prepared(real_vocab, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("qwen") / "prepared")
    assert main(["prepare", "--base", real_vocab, "--out", out]) == 0
    return out


def test_the_tokenizer_is_qwen25s(real_vocab):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(real_vocab)
    assert tok("Hello world")["input_ids"] == [9707, 1879] and len(tok) == 151665
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                                      "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
                                      "<tool_call>", "<|file_sep|>"]) == [
        151643, 151644, 151645, 151652, 151653, 151654, 151655, 151656, 151657, 151664]


def test_the_chat_template_renders_a_two_frame_conversation(real_vocab):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(real_vocab)
    messages = [{"role": "system", "content": [{"type": "text", "text": "Watch."}]},
                {"role": "user", "content": [{"type": "text", "text": "What moves?\n<0s-1s>\n"}, {"type": "image"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "</Silence>"}]},
                {"role": "user", "content": [{"type": "text", "text": "<1s-2s>\n"}, {"type": "image"}]}]
    assert processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nWatch.<|im_end|>\n"
        "<|im_start|>user\nWhat moves?\n<0s-1s>\n<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n"
        "<|im_start|>assistant\n</Silence><|im_end|>\n"
        "<|im_start|>user\n<1s-2s>\n<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n"
        "<|im_start|>assistant\n")


def test_prepare_adds_the_decision_tokens_once(real_vocab, prepared, tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoProcessor

    record = json.loads(open(f"{prepared}/prepare.json").read())
    assert record["added"] == {"</Silence>": 151665, "</Response>": 151666}
    assert record["embedding_rows_before"] == record["embedding_rows"] == 151936  # the spare rows, not grown or shrunk
    processor = AutoProcessor.from_pretrained(prepared)
    tok = processor.tokenizer
    assert tok("</Silence></Response>", add_special_tokens=False)["input_ids"] == [151665, 151666]
    assert processor.chat_template == AutoProcessor.from_pretrained(real_vocab).chat_template
    weights = next(v for k, v in load_file(f"{prepared}/model.safetensors").items() if "embed_tokens" in k)
    base = next(v for k, v in load_file(f"{real_vocab}/model.safetensors").items() if "embed_tokens" in k)
    mean = base[:151665].mean(dim=0)
    assert torch.allclose(weights[151665], mean) and torch.allclose(weights[151666], mean)
    assert torch.equal(weights[:151665], base[:151665])
    again = str(tmp_path / "again")
    assert main(["prepare", "--base", prepared, "--out", again]) == 0  # a second run changes nothing
    assert json.loads(open(f"{again}/prepare.json").read())["added"] == record["added"]
    second = next(v for k, v in load_file(f"{again}/model.safetensors").items() if "embed_tokens" in k)
    assert torch.equal(second, weights) and len(AutoProcessor.from_pretrained(again).tokenizer) == len(tok)


def _params(tmp_path, model):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["model"].update({"name_or_path": model, "max_new_tokens": 4})
    data["sft"].update({"batch_size": 2, "save_steps": 1000, "logging_steps": 1, **NO_CURRICULUM})
    data["grpo"].update({"num_generations": 2, "save_steps": 1000})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_every_consumer_refuses_a_tokenizer_without_decision_tokens(real_vocab, synth_world, sliced_world, tmp_path,
                                                                    capsys):
    params = _params(tmp_path, real_vocab)
    video = str(next((synth_world / "videos").glob("*.mp4")))
    commands = {
        "sft": ["sft", "--params", params, "--trajectories", str(sliced_world / "sft"), "--out", str(tmp_path / "s")],
        "grpo": ["grpo", "--params", params, "--model", real_vocab, "--trajectories", str(sliced_world / "rl"),
                 "--items", str(synth_world / "items" / "rl.jsonl"), "--out", str(tmp_path / "g")],
        "stream": ["stream", "--params", params, "--model", real_vocab, "--video", video, "--question", "q"],
        "bench": ["bench", "run", "--params", params, "--policy", f"model:{real_vocab}", "--trajectories",
                  str(sliced_world / "bench"), "--items", str(synth_world / "items" / "bench.jsonl"), "--out",
                  str(tmp_path / "p.jsonl")],
    }
    for name, argv in commands.items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert "has no single id for </Silence>" in err and f"run `streampro prepare --base {real_vocab}" in err, name


@pytest.mark.slow
def test_prepare_sft_stream_grpo_bench_on_the_real_vocabulary(prepared, synth_world, sliced_world, tmp_path):
    from streampro.bench.evaluate import bench_all
    from streampro.config import BenchParams, load_params
    from streampro.data.parquet import read_trajectories
    from streampro.model.format import StreamFormat
    from streampro.model.stream import StreamingModel
    from streampro.policy import Stream, TurnInput
    from streampro.train.grpo import train_grpo
    from streampro.train.losses import LossConfig, cb_stream_weights, shifted
    from streampro.train.sft import load_model, train_sft, windows

    params = load_params(_params(tmp_path, prepared))
    sft = train_sft(params, str(sliced_world / "sft"), str(tmp_path / "sft"), max_steps=2)
    assert sft["global_step"] == 2
    # CB-Stream's class weights land on exactly the decision tokens; every other token weighs λ_text
    model, processor = load_model(str(tmp_path / "sft"))
    fmt = StreamFormat(processor)
    streams = list(read_trajectories(str(sliced_world / "sft")))[:2]
    batch = fmt.encode([windows(t, 30)[0] for t in streams])
    _, targets = shifted(torch.zeros(*batch["labels"].shape, 1), batch["labels"])
    weights = cb_stream_weights(targets, LossConfig("cb_stream", fmt.silence_id, fmt.response_id, 0.9999, 2.0))
    decision = (targets == 151665) | (targets == 151666)
    assert int(decision.sum()) == sum(len(windows(t, 30)[0]) for t in streams)
    assert bool((weights[decision] != 2.0).all()) and bool((weights[~decision] == 2.0).all())
    # it streams, then one GRPO step, then the benchmark
    policy = StreamingModel(model, processor, window_turns=30, max_new_tokens=4)
    policy.reset(Stream("s", "v", "OU", 1.0, 3))
    assert len([policy.act(TurnInput(t.index, t.start, t.end, t.frame, t.user_text)) for t in streams[0].turns[:3]]) == 3
    grpo = train_grpo(params, str(tmp_path / "sft"), str(sliced_world / "rl"), str(synth_world / "items" / "rl.jsonl"),
                      str(tmp_path / "grpo"), max_steps=1)
    assert grpo["global_step"] == 1
    results = bench_all(BenchParams(), str(sliced_world / "bench"), str(synth_world / "items" / "bench.jsonl"), None,
                        str(tmp_path / "bench"), [f"model:{tmp_path / 'grpo'}"],
                        model_options={"window_turns": 30, "max_new_tokens": 4})
    assert 0 <= results[f"model:{tmp_path / 'grpo'}"]["overall_w_avg"] <= 100


@pytest.mark.slow
def test_a_qwen3_vl_checkpoint_goes_the_same_route(synth_world, sliced_world, tmp_path):
    """Qwen3-VL (16-pixel patches, DeepStack, interleaved M-RoPE; four more added tokens, so the decision tokens
    land at 151669/151670 within the 151,936 rows): prepare → SFT → stream → GRPO → bench."""
    from streampro.bench.evaluate import bench_all
    from streampro.config import BenchParams, load_params
    from streampro.model.qwen_vocab import build_real_vocab_checkpoint
    from streampro.train.grpo import train_grpo
    from streampro.train.sft import train_sft

    base = build_real_vocab_checkpoint(str(tmp_path / "qwen3"), family="qwen3-vl")
    assert json.loads(open(f"{base}/config.json").read())["model_type"] == "qwen3_vl"
    prepared = str(tmp_path / "prepared")
    assert main(["prepare", "--base", base, "--out", prepared]) == 0
    record = json.loads(open(f"{prepared}/prepare.json").read())
    assert record["added"] == {"</Silence>": 151669, "</Response>": 151670} and record["embedding_rows"] == 151936
    params = load_params(_params(tmp_path, prepared))
    assert train_sft(params, str(sliced_world / "sft"), str(tmp_path / "sft"), max_steps=2)["global_step"] == 2
    grpo = train_grpo(params, str(tmp_path / "sft"), str(sliced_world / "rl"), str(synth_world / "items" / "rl.jsonl"),
                      str(tmp_path / "grpo"), max_steps=1)
    assert grpo["global_step"] == 1
    name = f"model:{tmp_path / 'grpo'}"
    results = bench_all(BenchParams(), str(sliced_world / "bench"), str(synth_world / "items" / "bench.jsonl"), None,
                        str(tmp_path / "bench"), [name], model_options={"window_turns": 30, "max_new_tokens": 4})
    assert 0 <= results[name]["overall_w_avg"] <= 100
