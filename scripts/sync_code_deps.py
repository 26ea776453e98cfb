"""Rewrite each dvc.yaml stage's code deps (``streampro/**.py``) to what ``steptable.code_deps`` finds,
keeping its data deps, order and comments: ``python scripts/sync_code_deps.py`` after an import changes."""
from __future__ import annotations

import re
import sys

import yaml

from streampro.steps import STEPS
from streampro.steptable import code_deps


def main(path: str = "dvc.yaml") -> int:
    text = open(path).read()
    stages = yaml.safe_load(text)["stages"]
    tasks = {task.name: step for step in STEPS.values() if step.dag for task in step.dag.tasks}
    changed = 0
    for name in stages:
        if name not in tasks:
            continue
        block = re.search(rf"(?ms)^  {re.escape(name)}:\n(.*?)(?=^  \S|\Z)", text)
        deps = re.search(r"(?m)^    deps:\n((?:      - .*\n)+)", block.group(1))
        old = [line[8:] for line in deps.group(1).splitlines()]
        new = [d for d in old if not d.startswith("streampro/")] + sorted(code_deps(tasks[name]))
        if new != old:
            changed += 1
            start = block.start(1) + deps.start(1)
            text = text[:start] + "".join(f"      - {d}\n" for d in new) + text[start + len(deps.group(1)):]
    open(path, "w").write(text)
    print(f"{changed} stage(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
