"""The openai judge against a small OpenAI-compatible server on loopback.

The server is a stand-in for the real endpoint (a vLLM or hosted chat-completions API) at the network
boundary: it speaks the same wire format, so the judge's request, retries, parsing and cache are the
real code paths.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from streampro.bench.judges import make_judge
from streampro.bench.openai_judge import JudgeError
from streampro.schema import Answer, Item, Rubric

ITEM = Item(item_id="a", video_id="v", split="bench", task="OU", dimension="PU", question="When does it turn red?",
            query_time=0, answers=[Answer(text="the square turned red", time=5)])


class FakeEndpoint(BaseHTTPRequestHandler):
    replies: list = []  # (status, content) consumed in order; the last one repeats
    requests: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        status, content = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    FakeEndpoint.replies, FakeEndpoint.requests = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _judge(url, tmp_path, monkeypatch, retries=4):
    monkeypatch.setenv("JUDGE_KEY", "sk-test")
    return make_judge("openai", url=url, model="judge-7b", cache_dir=str(tmp_path / "cache"),
                      api_key_env="JUDGE_KEY", retries=retries)


def test_scores_and_caches(endpoint, tmp_path, monkeypatch):
    FakeEndpoint.replies = [(200, json.dumps({"explanation": "same colour change", "score": 4}))]
    judge = _judge(endpoint, tmp_path, monkeypatch)
    assert judge.score(ITEM, ITEM.answers[0], "it is red now") == 4
    assert judge.score(ITEM, ITEM.answers[0], "it is red now") == 4  # from the cache
    assert len(FakeEndpoint.requests) == 1
    request = FakeEndpoint.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "judge-7b" and "the square turned red" in request["body"]["messages"][1]["content"]
    fresh = _judge(endpoint, tmp_path, monkeypatch)  # a new judge, same cache folder: still no call
    assert fresh.score(ITEM, ITEM.answers[0], "it is red now") == 4 and len(FakeEndpoint.requests) == 1


def test_retries_transient_errors(endpoint, tmp_path, monkeypatch):
    FakeEndpoint.replies = [(503, "busy"), (429, "slow down"), (200, json.dumps({"explanation": "", "score": 1}))]
    judge = _judge(endpoint, tmp_path, monkeypatch)
    rubric = Rubric(rubric_id="r", aspect="coverage", rubric="Mentions red.")
    assert judge.check(ITEM, rubric, ["red"]) is True
    assert len(FakeEndpoint.requests) == 3


@pytest.mark.parametrize("content, message", [
    ("I think it deserves a 4", "did not answer with a JSON object"),
    (json.dumps({"explanation": "x", "score": 9}), "not an integer in 0..5"),
    (json.dumps({"explanation": "x", "score": "4"}), "not an integer in 0..5"),
])
def test_malformed_answers_fail_clearly(endpoint, tmp_path, monkeypatch, content, message):
    FakeEndpoint.replies = [(200, content)]
    with pytest.raises(JudgeError, match=message):
        _judge(endpoint, tmp_path, monkeypatch).score(ITEM, ITEM.answers[0], "red")
    assert not list((tmp_path / "cache").rglob("*.json"))  # a bad answer is never cached


def test_gives_up_after_retries(endpoint, tmp_path, monkeypatch):
    FakeEndpoint.replies = [(500, "down")]
    with pytest.raises(JudgeError, match="gave up after 3 attempts"):
        _judge(endpoint, tmp_path, monkeypatch, retries=2).score(ITEM, ITEM.answers[0], "red")
    assert len(FakeEndpoint.requests) == 3


def test_rubrics_step_writes_checkpoints_for_items_without_them(endpoint, tmp_path, monkeypatch):
    from streampro import storage, steps
    from streampro.config import load_params
    from tests.conftest import REPO

    points = [{"aspect": a, "rubric": f"checkpoint {k}"} for k, a in
              enumerate(["coverage", "coverage", "coherence", "coherence", "granularity", "granularity"])]
    FakeEndpoint.replies = [(200, json.dumps({"checkpoints": points}))]
    params = load_params(REPO / "params.yaml")
    params = params.model_copy(update={"bench": params.bench.model_copy(update={
        "judge": "openai", "judge_url": endpoint, "judge_model": "judge-7b", "judge_cache": str(tmp_path / "cache")})})
    kept = ITEM.model_copy(update={"item_id": "b", "rubric": [Rubric(rubric_id="x", aspect="coverage", rubric="r")]})
    items = tmp_path / "rl.jsonl"
    storage.write_records(str(items), [ITEM, kept])
    summary = steps.rubrics(params, str(items), str(tmp_path / "out.jsonl"))
    assert summary == {"items": 2, "rubrics_written": 1, "kept": 1}
    written = {i.item_id: i for i in storage.read_items(str(tmp_path / "out.jsonl"))}
    assert [r.aspect for r in written["a"].rubric] == [p["aspect"] for p in points] and written["b"].rubric == kept.rubric
    steps.rubrics(params, str(items), str(tmp_path / "again.jsonl"))
    assert len(FakeEndpoint.requests) == 1  # cached
    FakeEndpoint.replies = [(200, json.dumps({"checkpoints": points[:3]}))]
    storage.write_records(str(items), [ITEM.model_copy(update={"question": "Another question?"})])
    with pytest.raises(JudgeError, match="expected 6-10 checkpoints"):
        steps.rubrics(params, str(items), str(tmp_path / "x.jsonl"))
    with pytest.raises(ValueError, match="cannot write one"):
        steps.rubrics(load_params(REPO / "params.yaml"), str(items), str(tmp_path / "y.jsonl"))


def test_the_cache_keeps_endpoints_apart_and_prompts_are_capped(endpoint, tmp_path, monkeypatch):
    from streampro.bench.openai_judge import MAX_CHARS

    FakeEndpoint.replies = [(200, json.dumps({"explanation": "", "score": 3}))]
    first = _judge(endpoint, tmp_path, monkeypatch)
    other = _judge(endpoint.replace("/v1", "/other/v1"), tmp_path, monkeypatch)  # same model name, same cache
    assert first.score(ITEM, ITEM.answers[0], "red") == 3 and other.score(ITEM, ITEM.answers[0], "red") == 3
    assert [r["path"] for r in FakeEndpoint.requests] == ["/v1/chat/completions", "/other/v1/chat/completions"]
    first.score(ITEM, ITEM.answers[0], "red " * 5000)  # a runaway response
    prompt = FakeEndpoint.requests[-1]["body"]["messages"][1]["content"]
    assert len(prompt) < MAX_CHARS + 300 and "[... 19000 more characters]" in prompt


def test_the_prompt_carries_the_shared_scale_and_cases(endpoint, tmp_path, monkeypatch):
    from streampro.bench.grading import CASES

    FakeEndpoint.replies = [(200, json.dumps({"explanation": "", "score": 1}))]
    _judge(endpoint, tmp_path, monkeypatch).score(ITEM, ITEM.answers[0], "it is blue")
    system = FakeEndpoint.requests[0]["body"]["messages"][0]["content"]
    assert "0: only when there is no answer at all" in system and "1: factually incorrect" in system
    assert all(f'response "{c.response}" -> {c.score}' in system for c in CASES)
