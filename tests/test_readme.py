"""The README as a new user reads it: every `streampro` command line in it is one the CLI accepts, the pipeline
picture is the step table's DAG, and the step times are rendered from a measured run."""
import re
import shlex

import pytest

from streampro.cli import parse_command
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def _commands(text: str) -> list[str]:
    """Each `streampro ...` command of the README's code blocks and table cells (continuation lines joined)."""
    fenced = [body for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M) if lang in ("", "bash")]
    blocks = fenced + re.findall(r"^ {4,}(streampro .*)$", text, flags=re.M)
    lines = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("streampro ") and "…" not in line and "..." not in line:
                lines.append(line)
    cells = re.findall(r"`(streampro [^`]*)`", text)
    return lines + [c for c in cells if "…" not in c and "..." not in c and "COMMAND" not in c]


def test_the_readme_has_an_own_videos_recipe_and_every_command_in_it_parses():
    commands = _commands(README)
    recipe = README[README.index("## Your own videos"):]
    recipe = recipe[:recipe.index("\n## ", 1)]
    steps = [shlex.split(c)[1] for c in _commands(recipe)]
    for step in ("ingest", "slice", "prepare", "sft", "grpo", "bench", "report"):
        assert step in steps, f"the own-videos recipe has no `streampro {step}`"
    assert len(commands) >= 15
    for command in commands:
        try:
            parse_command(shlex.split(command)[1:])
        except SystemExit as exc:  # --help and --version exit 0 after printing
            if exc.code != 0:
                pytest.fail(f"README command rejected by the CLI ({exc.code}): {command}")


def test_the_pipeline_picture_is_the_step_tables_dag():
    from streampro.steps import STEPS
    from streampro.steptable import mermaid

    assert mermaid(STEPS) in README, "README's pipeline picture is stale: paste `streampro steps --mermaid`"
