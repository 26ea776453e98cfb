"""The shape of the step table (``streampro/steps.py``): what a step is, and how each edge uses it.

A :class:`Step` is one library entry point with typed arguments (:class:`Arg`). The table drives
every edge:

- the CLI (``streampro/cli.py``) builds one subcommand per step from its ``command`` and ``args``;
- ``dvc.yaml`` has one stage per :class:`Task` of a step's :class:`Dag`, and :func:`dvc_problems`
  checks each stage's ``cmd`` against the step (a test keeps them in step);
- the KFP components (``components/``) are made from the same ``args``: an :class:`In` argument
  becomes an input artifact (a path inside it), an :class:`Out` one an output artifact, and the
  pipeline (``pipelines/``) wires each :class:`Task` to the tasks it names.

A step without ``dag`` is a command only (``bench run``, ``stream``, ``peers``, ...).
"""
from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class In:
    """A DAG input: the file or folder ``part`` inside the upstream artifact ``artifact``."""

    artifact: str
    part: str = ""
    kind: Literal["Dataset", "Model"] = "Dataset"


@dataclass(frozen=True)
class Out:
    """A DAG output: the step writes its output folder or file as the artifact ``artifact``."""

    artifact: str
    kind: Literal["Dataset", "Model"] = "Dataset"


@dataclass(frozen=True)
class Arg:
    """One typed argument of a step's entry point (``--name-with-dashes`` on the command line)."""

    name: str
    help: str
    type: type = str
    required: bool = False
    default: Any = None
    many: bool = False  # a list (``nargs="+"``)
    choices: tuple = ()
    switch: bool = False  # a flag without a value (``store_true``)
    dag: In | tuple[In, ...] | Out | None = None  # how a KFP task fills it; None: from ``kfp_param`` or unset
    kfp_param: bool = False  # a component parameter, set per task (``Task.values``) or by the pipeline

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def ins(self) -> tuple[In, ...]:
        if isinstance(self.dag, In):
            return (self.dag,)
        return self.dag if isinstance(self.dag, tuple) else ()


@dataclass(frozen=True)
class Task:
    """One use of a step in the DAG: a dvc stage and a KFP task, both called ``name``."""

    name: str
    inputs: dict[str, str] = field(default_factory=dict)  # input artifact -> "TASK.ARTIFACT" ("world": the world)
    values: dict[str, Any] = field(default_factory=dict)  # component parameters
    gpu: bool = False  # requests the GPU node pool (orchestration.gpu)


@dataclass(frozen=True)
class Dag:
    """How a step runs in the DAG (dvc and Kubeflow)."""

    tasks: tuple[Task, ...]
    image: Literal["cpu", "gpu"] = "cpu"
    cache: bool = True  # KFP caching (deterministic steps)
    judge_key: bool = False  # gets the judge's API key when bench.judge is openai
    world: bool = False  # makes the world (synth or ingest): the pipeline takes one of them
    metrics: Callable[[Any], dict[str, float]] | None = None  # the step's result as KFP metrics
    ui: dict[str, str] = field(default_factory=dict)  # {"html" | "markdown": file under the output}
    trainjob: str | None = None  # trains on many GPUs as a TrainJob; the summary file it leaves in its output
    params: tuple[str, ...] = ()  # the params.yaml sections it reads: its KFP inputs (and so its cache key)


@dataclass(frozen=True)
class Step:
    name: str
    summary: str  # one line (the table, ``--help`` lists)
    description: str  # the subcommand's ``--help``
    entry: Callable
    args: tuple[Arg, ...] = ()
    command: tuple[str, ...] = ()  # CLI words; default: (name,)
    params: bool = True  # reads params.yaml (``--params``, ``--profile``); passed as the entry's first argument
    extra_args: str | None = None  # the argument that takes unknown flags (Beam pipeline options)
    show: Callable[[Any], Any] | None = None  # what the CLI prints of the result (default: all of it, as JSON)
    dag: Dag | None = None

    @property
    def words(self) -> tuple[str, ...]:
        return self.command or (self.name,)

    @property
    def cli(self) -> str:
        return " ".join(("streampro", *self.words))

    def arg(self, name: str) -> Arg:
        return next(a for a in self.args if a.name == name)


def dvc_problems(steps: dict[str, Step], stages: dict[str, dict], parse: Callable[[list[str]], Any]) -> list[str]:
    """Every way ``dvc.yaml``'s ``stages`` and the step table disagree (empty when they agree).

    Each task of a step with a DAG is a stage of the same name whose ``cmd`` the CLI parser
    (``parse``) reads as that step with valid flags; every stage is a task of some step.
    """
    problems, tasks = [], {}
    for step in steps.values():
        for task in step.dag.tasks if step.dag else ():
            tasks[task.name] = step
    for name, step in tasks.items():
        if name not in stages:
            problems.append(f"dvc.yaml has no stage {name!r} (a task of step {step.name!r})")
            continue
        cmd = stages[name].get("cmd", "")
        words = shlex.split(cmd) if isinstance(cmd, str) else []
        if words[:1] != ["streampro"]:
            problems.append(f"stage {name!r}: cmd does not run `streampro`: {cmd!r}")
            continue
        try:
            parsed = parse(words[1:])
        except SystemExit:
            problems.append(f"stage {name!r}: `{step.cli}` rejects the cmd {cmd!r}")
            continue
        if getattr(parsed, "step", None) != step.name:
            problems.append(f"stage {name!r}: cmd runs {getattr(parsed, 'step', None)!r}, not step {step.name!r}")
        read = {str(p).split(".")[0] for entry in stages[name].get("params") or []
                for p in (entry if isinstance(entry, dict) else [entry])}  # ({file: [keys]} entries too)
        if not read <= set(step.dag.params):
            problems.append(f"stage {name!r}: params {sorted(read - set(step.dag.params))} are not among the sections "
                            f"step {step.name!r} reads (Dag.params {list(step.dag.params)}): its Kubeflow task would "
                            "not get them")
    for name in stages:
        if name not in tasks:
            problems.append(f"dvc.yaml stage {name!r} is no task of any step in the step table")
    return problems


def table_rows(steps: dict[str, Step]) -> list[dict]:
    """One row per step: name, CLI, entry point, DAG tasks (dvc stages and KFP tasks), summary."""
    return [{"step": s.name, "cli": s.cli, "entry": f"{s.entry.__module__}.{s.entry.__name__}",
             "tasks": ", ".join(t.name for t in s.dag.tasks) if s.dag else "", "summary": s.summary}
            for s in steps.values()]


def usage(step: Step) -> str:
    """``streampro sft --trajectories TRAJECTORIES --out OUT [--max-steps MAX_STEPS]``"""
    parts = [step.cli]
    for a in step.args:
        text = a.flag if a.switch else f"{a.flag} {a.name.upper()}" + (" ..." if a.many else "")
        parts.append(text if a.required else f"[{text}]")
    if step.extra_args:
        parts.append("[Beam options]")
    return " ".join(parts)


def table_markdown(steps: dict[str, Step]) -> str:
    """The step table as docs/steps.md shows it."""
    lines = ["| step | CLI | library entry point | dvc stages = KFP tasks | summary |", "|---|---|---|---|---|"]
    for row, step in zip(table_rows(steps), steps.values()):
        tasks = ", ".join(f"`{t.name}`" for t in step.dag.tasks) if step.dag else "— (command only)"
        lines.append(f"| {row['step']} | `{usage(step)}` | `{row['entry']}` | {tasks} | {row['summary']} |")
    return "\n".join(lines)


def mermaid(steps: dict[str, Step]) -> str:
    """The DAG as a Mermaid flowchart (the README's picture): a node per task, an edge per artifact it reads,
    GPU tasks marked; the world is made by synth (or ingest, for your own videos)."""
    lines = ["```mermaid", "flowchart LR"]
    tasks = {t.name: (s, t) for s in steps.values() if s.dag for t in s.dag.tasks}
    for name, (step, task) in tasks.items():
        shape = f'{name}(["{name} · GPU"])' if task.gpu else f'{name}["{name}"]'
        lines.append(f"  {shape}")
    for name, (step, task) in tasks.items():
        for artifact, ref in task.inputs.items():
            producer, _, output = ref.partition(".")
            producer, output = ("synth", "world") if ref == "world" else (producer, output)
            lines.append(f"  {producer} -->|{output}| {name}")
    lines.append("  ingest -.->|world, your videos| rubrics")
    lines.append("```")
    return "\n".join(dict.fromkeys(lines))  # (an edge read by two inputs of a task is drawn once)


def _imports_in(tree, package: str, root: str, top_only: bool = False) -> set[str]:
    """The package's source files that the parsed ``tree`` imports (inside functions too, unless ``top_only``)."""
    import ast
    import os

    nodes = tree.body if top_only else ast.walk(tree)
    found = set()
    for node in nodes:
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != package:
                continue
            base = os.path.join(root, *parts)
            found |= {os.path.relpath(c, root) for c in (base + ".py", os.path.join(base, "__init__.py"))
                      if os.path.isfile(c)}
    return found


def code_deps(step: Step) -> list[str]:
    """The package's source files that running ``step`` from the CLI can execute: what importing the CLI and
    the step table loads (their top-level imports, transitively), and the entry point's imports followed
    through every import of the modules reached (inside functions too). ``dvc.yaml`` lists them as the
    stage's deps (a test keeps them equal)."""
    import ast
    import importlib
    import inspect
    import os
    import textwrap

    package = step.entry.__module__.split(".")[0]
    root = os.path.dirname(os.path.dirname(os.path.abspath(importlib.import_module(package).__file__)))

    def parse(path):
        with open(os.path.join(root, path)) as f:
            return ast.parse(f.read())

    def closure(start: set[str], top_only: bool) -> set[str]:
        seen, todo = set(), sorted(start)
        while todo:
            path = todo.pop()
            if path not in seen:
                seen.add(path)
                todo += sorted(_imports_in(parse(path), package, root, top_only) - seen)
        return seen

    loaded = closure({os.path.join(package, "cli.py")}, top_only=True)  # the CLI imports the table
    run = closure(_imports_in(ast.parse(textwrap.dedent(inspect.getsource(step.entry))), package, root), False)
    files = loaded | run | {os.path.relpath(inspect.getsourcefile(step.entry), root)}
    return sorted(p for p in files if os.path.getsize(os.path.join(root, p)) > 0 or not p.endswith("__init__.py"))
