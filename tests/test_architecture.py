"""The house rules, read from the source with ``ast`` (nothing imported): no import cycle between tfdeepfake's
modules, command lines only in tfdeepfake/cli/, and data flowing one way (../shared/design.md).

Every import counts, module-level and function-level ("lazy") alike: a lazy import still ties the two modules
together; only the bodies of ``if __name__ == "__main__":`` and ``if TYPE_CHECKING:`` are left out (a ``python -m`` shim handing its argv to
tfdeepfake.cli runs as a script, never as an import; a type-checking import never runs). ``from .x import y`` where ``y`` is a submodule counts as
an import of ``x.y``; a package's ``__init__`` counts as the package.
"""
import ast
from pathlib import Path
from helpers import ROOT

PACKAGE = ROOT / "tfdeepfake"

# layers, upstream first (a module's layer: its longest dotted prefix listed here): a module may import from its
# own layer or those before it, never from a later one
LAYERS = [
    {"errors", "storage", "audio", "metrics", "weights"},
    {"input_rule", "corpora", "augment", "features", "spoofing", "records", "config", "pipeline", "strategy", "beam",
     "beam.records", "build_tfrecords"},
    {"models"},
    {"bundle"},
    {"inference", "score_files"},
    {"evaluate", "reports", "export", "probe", "speaker_verification", "calibration"},
    {"training", "train"},
    {"beam.predict", "web"},
    {"cli"},
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The tfdeepfake modules ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text(), str(path))
    script_only = {id(n) for guard in ast.walk(tree) if isinstance(guard, ast.If)
                   and (_is_main_guard(guard) or getattr(guard.test, "id", "") == "TYPE_CHECKING")
                   for n in ast.walk(guard)}
    for node in ast.walk(tree):
        if id(node) in script_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("tfdeepfake"):
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def layer_key(name: str, layer_of: dict) -> str | None:
    """The longest dotted prefix of ``name`` (without 'tfdeepfake.') that LAYERS places; None for the package."""
    parts = name.split(".")[1:]
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in layer_of:
            return ".".join(parts[:end])
    return parts[0] if parts else None


def test_the_graph_sees_imports_of_every_kind():
    edges = graph()
    assert "tfdeepfake.inference.stream" in edges["tfdeepfake.inference.detector"]  # lazy, inside a method
    assert "tfdeepfake.cli.common" in edges["tfdeepfake.cli.predict"]
    assert "tfdeepfake.models.aasist" in edges["tfdeepfake.models.registry"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_command_lines_live_only_in_cli():
    offenders = []
    for name, path in modules().items():
        if name == "tfdeepfake.cli" or name.startswith("tfdeepfake.cli."):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names):
                offenders.append(f"{name} imports argparse")
            if isinstance(node, ast.Attribute) and node.attr == "argv" and getattr(node.value, "id", "") == "sys":
                if not _only_recorded(tree, node):
                    offenders.append(f"{name} reads sys.argv")
    assert not offenders, offenders


def _only_recorded(tree, node) -> bool:
    """sys.argv written into a record (provenance, a results file's command) rather than parsed, or handed to the
    command line by a ``python -m`` shim."""
    for parent in ast.walk(tree):
        if isinstance(parent, ast.If) and _is_main_guard(parent) and any(n is node for n in ast.walk(parent)):
            return True
        if isinstance(parent, (ast.keyword, ast.Dict, ast.JoinedStr, ast.BinOp)) and \
                any(n is node for n in ast.walk(parent)):
            return True
    return False


def _is_main_guard(node: ast.If) -> bool:
    test = node.test
    return isinstance(test, ast.Compare) and getattr(test.left, "id", "") == "__name__"


def test_data_flows_one_way():
    layer_of = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    edges = graph()
    keys = {name: layer_key(name, layer_of) for name in edges}
    unplaced = sorted({k for k in keys.values() if k and k not in layer_of})
    assert not unplaced, f"modules in no layer of this test: {unplaced}"
    backwards = [f"{a} -> {b}" for a, targets in edges.items() for b in targets
                 if keys[a] and keys[b] and layer_of[keys[b]] > layer_of[keys[a]]]
    assert not backwards, "arrows back up: " + "; ".join(sorted(backwards))


def test_every_relative_import_names_a_module():
    """A relative import whose module does not exist fails only when its line runs (lazy imports): find them all."""
    found = modules()
    broken = []
    for name, path in found.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
                if base not in found:
                    broken.append(f"{name}:{node.lineno} imports {base}")
    assert not broken, broken


def test_reading_a_config_does_not_load_tensorflow():
    """Configs are read (and checked) before any TensorFlow start-up: `import tfdeepfake.config` stays light."""
    import subprocess
    import sys

    code = "import sys, tfdeepfake.config; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
