"""The package's layering, read from the source: the engine and the shared libraries import
no paper, no module imports a private name of another, and there is no import cycle."""
import ast
import os

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "jaxlab")
COMMAND_LINE = {"jaxlab.cli", "jaxlab.bench", "jaxlab.sweep"}


def modules() -> dict[str, ast.Module]:
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                name = name.removesuffix(".__init__")
                with open(path) as fh:
                    out[name] = ast.parse(fh.read(), path)
    return out


def imports(tree: ast.Module, known: set[str]) -> list[tuple[str, str | None]]:
    """(module, imported name or None) for every import in the file, at any depth; a
    ``from a import b`` where a.b is a module counts as importing a.b."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.append((sub, None) if sub in known else (node.module, a.name))
    return [(m, n) for m, n in out if m == "jaxlab" or m.startswith("jaxlab.")]


MODULES = modules()
GRAPH = {name: {m for m, _ in imports(tree, set(MODULES)) if m in MODULES and m != name}
         for name, tree in MODULES.items()}


def test_the_engine_and_libraries_import_no_paper():
    offenders = [(name, dep) for name, deps in GRAPH.items() for dep in deps
                 if dep.startswith("jaxlab.papers") and name not in COMMAND_LINE
                 and not name.startswith("jaxlab.papers")]
    assert not offenders, offenders


def test_no_private_name_is_imported_across_modules():
    offenders = [(name, mod, n) for name, tree in MODULES.items()
                 for mod, n in imports(tree, set(MODULES)) if n and n.startswith("_")
                 and not n.startswith("__") and mod != name]
    assert not offenders, offenders


def test_there_is_no_import_cycle():
    # a package's __init__ importing its own submodules is not a cycle of logic
    graph = {name: {d for d in deps if not name.startswith(d + ".") and not d.startswith(name + ".")}
             for name, deps in GRAPH.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_the_checker_sees_a_cycle_and_a_paper_import():
    """The graph above is not empty by accident: known edges are there."""
    assert "jaxlab.runner" in GRAPH["jaxlab.experiment"]
    assert "jaxlab.papers" in GRAPH["jaxlab.cli"] or "jaxlab.papers" in GRAPH["jaxlab.bench"]
    assert any(d.startswith("jaxlab.papers.icl_occam") for d in GRAPH["jaxlab.papers.icl_occam.figures"])
