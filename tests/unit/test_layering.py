"""The dependency direction: cli -> local | aws -> lambdas; lambdas never imports votectl;
loadtests import neither. Walks every module's imports, so a stray one fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("lambdas"), ids=str)
def test_lambdas_import_only_stdlib_boto3_msgspec_and_themselves(path: Path) -> None:
    allowed = {"lambdas", "boto3", "botocore", "msgspec"}
    import sys

    for name in imports(path):
        top = name.split(".")[0]
        assert top in allowed or top in sys.stdlib_module_names, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", modules("loadtests"), ids=str)
def test_loadtests_import_neither_votectl_nor_lambdas(path: Path) -> None:
    assert not {n.split(".")[0] for n in imports(path)} & {"votectl", "lambdas"}


@pytest.mark.parametrize("target,other", [("local", "aws"), ("aws", "local")])
def test_targets_do_not_import_each_other_nor_the_cli(target: str, other: str) -> None:
    for path in modules(f"votectl/{target}"):
        names = imports(path)
        assert not any(n.startswith(f"votectl.{other}") for n in names), path
        assert not any(n.startswith("votectl.cli") for n in names), path


# votectl's layers, lowest first: a module imports only its own layer's or lower layers'
# modules. The shared types (operations, model) sit below the targets; the chooser
# (targets) and what drives a target sit above them; the CLI is on top.
CORE = {
    "votectl",
    "votectl.config",
    "votectl.errors",
    "votectl.logevents",
    "votectl.model",
    "votectl.operations",
    "votectl.output",
    "votectl.peek",
    "votectl.probe",
}
LAYERS = {"core": 0, "target": 1, "above": 2, "cli": 3}


def layer(module: str) -> int:
    if module in CORE:
        return LAYERS["core"]
    if module.startswith(("votectl.local", "votectl.aws")):
        return LAYERS["target"]
    if module.startswith(("votectl.cli", "votectl.__main__", "votectl.launch")):  # entries
        return LAYERS["cli"]
    return LAYERS["above"]  # votectl.targets, votectl.loadtest and other drivers


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", modules("votectl"), ids=str)
def test_votectl_imports_point_down_the_layers(path: Path) -> None:
    here = module_name(path)
    for name in imports(path):
        if name == "votectl" or name.startswith("votectl."):
            assert layer(name) <= layer(here), f"{here} (layer {layer(here)}) imports {name}"


def test_the_layer_rule_catches_the_old_circle() -> None:
    """The chooser importing both targets, and a target importing the chooser, both fail."""
    assert layer("votectl.targets") > layer("votectl.local.ops")
    assert layer("votectl.aws.ops") > layer("votectl.operations")
    assert not (ROOT / "votectl" / "ops.py").exists()


@pytest.mark.parametrize("path", modules("votectl/plan"), ids=str)
def test_plan_imports_neither_the_cli_nor_a_target(path: Path) -> None:
    names = imports(path)
    assert not any(n.startswith(("votectl.cli", "votectl.aws", "votectl.local")) for n in names)


def _graph() -> dict[str, set[str]]:
    """votectl module -> the votectl modules it imports (TYPE_CHECKING imports included: a
    circle of types is a circle of design even when Python never runs it)."""
    known = {module_name(p) for p in modules("votectl")}
    graph: dict[str, set[str]] = {}
    for path in modules("votectl"):
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from votectl.aws import bundle` imports the module votectl.aws.bundle
                names = [f"{node.module}.{a.name}" for a in node.names]
                targets.update(n for n in names if n in known)
                targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        here = module_name(path)
        graph[here] = {t for t in targets if t in known and t != here and t != "votectl"}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle once, as the modules along it (Tarjan's strongly connected parts)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_votectl_module_imports_itself_through_others() -> None:
    assert cycles(_graph()) == []


def test_the_circle_check_sees_a_circle() -> None:
    """The old deploy circle (pipeline <-> changeset, pipeline <-> events) is caught."""
    old = {
        "votectl.aws.pipeline": {"votectl.aws.changeset", "votectl.aws.events"},
        "votectl.aws.changeset": {"votectl.aws.pipeline", "votectl.aws.events"},
        "votectl.aws.events": {"votectl.aws.pipeline"},
    }
    assert cycles(old) == [sorted(old)]


def test_the_deploy_records_sit_below_the_steps() -> None:
    graph = _graph()
    assert graph["votectl.aws.records"] == set()
    for step in ("votectl.aws.pipeline", "votectl.aws.changeset", "votectl.aws.events"):
        assert "votectl.aws.records" in graph[step]
