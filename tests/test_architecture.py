"""The layer map of docs/architecture.md: a module imports (at its top) only from its layer or below."""
import ast

from tests.conftest import REPO

LAYERS = {
    1: {"config", "schema", "storage", "layout", "outputs", "tasks", "timing", "protocol", "policy"},
    2: {"synth", "data"},
    3: {"bench"},
    4: {"model"},
    5: {"train"},
    6: {"steptable", "steps", "commands", "ablation"},
    7: {"cli", "kfp_task", "submit", "trainjob"},
}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}


def _top_imports(path):
    """The streampro modules imported at the top of a file (not inside functions)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "streampro":
            parts = node.module.split(".")
            yield from ([parts[1]] if len(parts) > 1 else [a.name for a in node.names if a.name != "__version__"])
        elif isinstance(node, ast.Import):
            yield from (a.name.split(".")[1] for a in node.names if a.name.startswith("streampro."))


def test_no_import_runs_back_up():
    package = REPO / "streampro"
    upward = []
    for path in sorted(package.rglob("*.py")):
        top = path.relative_to(package).parts[0].removesuffix(".py")
        if top == "__init__":
            continue
        assert top in LAYER_OF, f"{path}: not on the layer map (docs/architecture.md, tests/test_architecture.py)"
        for imported in _top_imports(path):
            if LAYER_OF[imported] > LAYER_OF[top]:
                upward.append(f"{path.relative_to(REPO)} imports streampro.{imported}")
    assert upward == []


def test_the_map_is_the_one_in_the_docs():
    doc = (REPO / "docs" / "architecture.md").read_text()
    for layer, names in LAYERS.items():
        row = next(line for line in doc.splitlines() if line.startswith(f"| {layer} "))
        assert all(f"`{n}" in row for n in names), f"layer {layer} of docs/architecture.md differs: {row}"
