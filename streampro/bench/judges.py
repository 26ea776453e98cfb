"""Making a judge by name, or from params.yaml ``bench`` (the interface: ``streampro/bench/judge.py``)."""
from __future__ import annotations

from streampro.bench.judge import Judge
from streampro.config import BenchParams


def make_judge(name: str, **options) -> Judge:
    if name == "rule":
        from streampro.bench.rule_judge import RuleJudge

        return RuleJudge()
    if name == "openai":
        from streampro.bench.openai_judge import OpenAIJudge

        return OpenAIJudge(**options)
    raise ValueError(f"unknown judge {name!r} (rule | openai)")


def judge_from(params: BenchParams, name: str | None = None) -> Judge:
    """The judge params.yaml ``bench`` selects (or ``name``), configured from the same section."""
    name = name or params.judge
    if name == "openai":
        if not (params.judge_url and params.judge_model):
            raise ValueError("bench.judge_url and bench.judge_model must be set for the openai judge")
        return make_judge("openai", url=params.judge_url, model=params.judge_model, cache_dir=params.judge_cache,
                          api_key_env=params.judge_api_key_env)
    return make_judge(name)
