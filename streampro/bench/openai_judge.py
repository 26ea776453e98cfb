"""The ``openai`` judge: any OpenAI-compatible chat-completions endpoint (vLLM, a hosted API, ...).

It asks for a JSON object ``{"explanation": str, "score": int}`` (0–5 for answers, 0/1 for rubric
checkpoints) through the ``openai`` SDK (``base_url`` = the endpoint; the SDK retries connection
failures, timeouts, HTTP 408/409/429 and 5xx with exponential back-off and honours ``Retry-After``), and
fails with :class:`JudgeError` on a malformed answer. Every call is cached on disk under
``cache_dir``, keyed by the endpoint, its model and the full request, so re-scoring is free and
reproducible. The API key, if the endpoint needs one, comes from the environment variable named by
``api_key_env`` (a Kubernetes secret on the cluster), never from params.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from streampro.bench.grading import SCALE, calibration_text
from streampro.bench.judge import Judge
from streampro.schema import Answer, Item, Rubric

ANSWER_PROMPT = (
    "You grade one response of a streaming video assistant against the reference answer. The assistant "
    "answered while watching the video, so judge only whether the response gives the same information as "
    "the reference: same objects, actions, states, numbers and times. Ignore wording and length.\n"
    f"Scale: {SCALE}\nExamples:\n{calibration_text()}\n"
    'Reply with only a JSON object: {"explanation": "<one sentence>", "score": <integer 0-5>}.'
)
RUBRIC_PROMPT = (
    "You check whether a streaming video assistant's whole sequence of responses meets one checkpoint of "
    "a rubric. The responses are listed in time order with the second each was given.\n"
    'Reply with only a JSON object: {"explanation": "<one sentence>", "score": 1 if it is met, else 0}.'
)


RUBRIC_WRITER_PROMPT = (
    "You write the rubric for one item of a streaming video benchmark: binary checkpoints that a grader can "
    "check against the whole sequence of an assistant's responses, given only the question and the reference "
    "answers with their times. Write between 6 and 10 checkpoints covering three aspects: granularity (one "
    "response per event, no chatter, no partial answers), coherence (events reported in the order they happen, "
    "no contradictions) and coverage (every reference answer's content appears).\n"
    'Reply with only a JSON object: {"checkpoints": [{"aspect": "granularity" | "coherence" | "coverage", '
    '"rubric": "<one checkable sentence>"}, ...]}.'
)
ASPECTS = ("granularity", "coherence", "coverage")


MAX_CHARS = 1000  # a model's response goes into a judge prompt at most this long
MAX_RESPONSES = 100  # a rubric check lists at most this many responses


def capped(text: str) -> str:
    """A response as the judge reads it: cut at ``MAX_CHARS`` (a runaway output cannot flood the prompt)."""
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + f" [... {len(text) - MAX_CHARS} more characters]"


class JudgeError(RuntimeError):
    pass


class OpenAIJudge(Judge):
    name = "openai"

    def __init__(self, url: str, model: str, cache_dir: str = ".judge_cache", api_key_env: str = "OPENAI_API_KEY",
                 retries: int = 4, timeout: float = 60.0):
        from openai import OpenAI

        base = url.rstrip("/")
        base = base[: -len("/chat/completions")] if base.endswith("/chat/completions") else base
        self.url = base + "/chat/completions"  # (the cache key: which endpoint answered)
        self.model, self.cache, self.retries = model, Path(cache_dir), retries
        self.client = OpenAI(base_url=base, api_key=os.environ.get(api_key_env) or "none", max_retries=retries,
                             timeout=timeout)

    def _post(self, payload: dict) -> dict:
        import openai

        try:
            return self.client.chat.completions.create(**payload).model_dump()
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            raise JudgeError(f"{self.url}: gave up after {self.retries + 1} attempts ({type(exc).__name__}: "
                             f"{str(exc)[:200]})") from None
        except openai.APIStatusError as exc:
            raise JudgeError(f"{self.url}: HTTP {exc.status_code}: {str(exc)[:300]}") from None

    def ask_json(self, system: str, user: str, check) -> dict:
        """The endpoint's JSON answer to one request, validated by ``check`` (which raises JudgeError) and
        cached on disk keyed by the whole request; a bad answer is never cached."""
        payload = {"model": self.model, "temperature": 0, "response_format": {"type": "json_object"},
                   "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}
        key = hashlib.sha256(json.dumps({"endpoint": self.url, **payload}, sort_keys=True).encode()).hexdigest()
        path = self.cache / key[:2] / f"{key}.json"
        if path.exists():
            return json.loads(path.read_text())["answer"]
        reply = self._post(payload)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(f"{self.url}: reply has no choices[0].message.content: {str(reply)[:300]}") from None
        try:
            parsed = json.loads(content)
        except (json.JSONDecodeError, TypeError):
            raise JudgeError(f"{self.url}: the judge did not answer with a JSON object: {content[:300]!r}") from None
        if not isinstance(parsed, dict):
            raise JudgeError(f"{self.url}: the judge did not answer with a JSON object: {content[:300]!r}")
        check(parsed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"answer": parsed, "endpoint": self.url, "model": self.model, "request": payload}))
        return parsed

    def ask(self, system: str, user: str, top: int) -> int:
        def check(parsed: dict) -> None:
            score = parsed.get("score")
            if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= top:
                raise JudgeError(f"{self.url}: score {score!r} is not an integer in 0..{top} "
                                 f"(the judge must answer with a JSON object with a score)")

        return self.ask_json(system, user, check)["score"]

    def write_rubric(self, item: Item) -> list[Rubric]:
        """6–10 binary checkpoints for an item, written from its question and answers (the rubrics step)."""
        answers = "\n".join(f"- at {a.end:g}s: {a.text}" for a in item.answers)
        user = f"Task: {item.task}\nQuestion: {item.question}\nReference answers:\n{answers}"

        def check(parsed: dict) -> None:
            points = parsed.get("checkpoints")
            if not isinstance(points, list) or not 6 <= len(points) <= 10:
                raise JudgeError(f"{self.url}: expected 6-10 checkpoints, got {str(points)[:200]}")
            for p in points:
                if not isinstance(p, dict) or p.get("aspect") not in ASPECTS or not str(p.get("rubric", "")).strip():
                    raise JudgeError(f"{self.url}: malformed checkpoint {str(p)[:200]}")

        points = self.ask_json(RUBRIC_WRITER_PROMPT, user, check)["checkpoints"]
        return [Rubric(rubric_id=f"{item.item_id}-r{k}", aspect=p["aspect"], rubric=p["rubric"].strip())
                for k, p in enumerate(points)]

    def score(self, item: Item, answer: Answer, text: str) -> int:
        user = f"Question: {item.question}\nReference answer: {answer.text}\nResponse: {capped(text)}"
        return self.ask(ANSWER_PROMPT, user, 5)

    def check(self, item: Item, rubric: Rubric, responses: list[str]) -> bool:
        listed = "\n".join(f"- {capped(r)}" for r in responses[:MAX_RESPONSES]) or "(no responses)"
        if len(responses) > MAX_RESPONSES:
            listed += f"\n- ... and {len(responses) - MAX_RESPONSES} more responses"
        user = f"Question: {item.question}\nCheckpoint ({rubric.aspect}): {rubric.rubric}\nResponses:\n{listed}"
        return self.ask(RUBRIC_PROMPT, user, 1) == 1
