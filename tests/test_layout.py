"""The shape of the code: the job framework apart from the app, no import cycles (counting
imports made inside functions), every area and task module registered."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("webapp", "tasks", "jobkit")


def module_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ours that ``name`` imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    source = path.read_text()
    if "pkgutil.iter_modules(__path__)" in source:
        # A package that imports every module it holds depends on each of them.
        found |= {m for m in known if m.rpartition(".")[0] == name}
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            # `from package import module` depends on that module; `from module import name`
            # on the module.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            # `from pkg import module` names a module; `from module import name` names module.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imports_of(name, path, known) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
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
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_form_a_cycle():
    graph = import_graph()
    # A package imports its submodules only to register them; what matters is that no module
    # reaches back to one that (indirectly) imports it.
    assert cycles(graph) == []


def test_the_cycle_check_sees_function_local_imports(tmp_path):
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from webapp.models import jobs\n")
    assert imports_of("tasks.x", source, {"webapp.models", "webapp.models.jobs"}) == {
        "webapp.models.jobs"
    }
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_framework_imports_nothing_of_the_apps_areas():
    allowed = ("jobkit", "webapp.extensions", "webapp.models", "webapp.exceptions")
    graph = import_graph()
    for name, targets in graph.items():
        if name.split(".")[0] != "jobkit":
            continue
        strays = {t for t in targets if not t.startswith(allowed)}
        assert strays == set(), f"{name} imports {sorted(strays)}"


def test_services_never_import_the_apps_tasks_or_pages():
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("webapp.services"):
            strays = {t for t in targets if t.startswith("tasks") or t.startswith("webapp.api")}
            assert strays == set(), f"{name} imports {sorted(strays)}"


IMPORT_EACH = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("webapp", "tasks", "jobkit")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc(limit=3))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_on_its_own():
    # One interpreter, our packages forgotten before each import: each module must bring in
    # what it needs, in an order that works, whichever module is imported first.
    modules = sorted(m for m in module_files() if not m.endswith("__main__"))
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, *modules], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_task_module_is_registered_once_the_app_is_built(app):
    import jobkit
    import tasks

    names = {info.name for info in pkgutil.iter_modules(tasks.__path__)}
    loaded = {module.__name__.rpartition(".")[2] for module in tasks.TASK_MODULES}
    assert names == loaded
    for module in tasks.TASK_MODULES:
        for value in vars(module).values():
            name = getattr(value, "name", None)
            if getattr(value, "dispatch", None) is not None and isinstance(name, str):
                assert jobkit.task_named(name) is value


def test_every_area_registers_its_commands_and_nav(app):
    from webapp.app import AREAS
    from webapp.areas import registry_of

    registry = registry_of(app)
    for area in AREAS:
        for command in area.cli:
            assert app.cli.commands[command.name] is command
        if area.blueprint is not None:
            assert app.blueprints[area.blueprint.name] is area.blueprint
    assert [e.order for e in registry.nav] == sorted(e.order for e in registry.nav)
    for name in registry.schedulable:
        group, sub = name.split(" ", 1)
        assert sub in app.cli.commands[group].commands
    assert importlib.import_module("webapp.app").create_app is not None


INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
TRIGGER_FILTER = re.compile(r'hx-trigger="[^"]*(?<![\w:\]])\[')
INLINE_STYLE = re.compile(r"\sstyle\s*=|<style[\s>]", re.I)
# /api/docs is served under its own policy, which lets Redoc style itself inline.
OWN_POLICY = {Path("templates/api/docs.html")}
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)


@pytest.mark.parametrize(
    "pattern, sample",
    [
        (INLINE_HANDLER, '<button onclick="go()">'),
        (INLINE_SCRIPT, "<script>alert(1)</script>"),
        (TRIGGER_FILTER, 'hx-trigger="every 2s [x()]"'),
        (INLINE_STYLE, '<span class="bar" style="width: 50%">'),
        (INLINE_STYLE, "<rect STYLE='fill: red'>"),
        (INLINE_STYLE, "<style>p { color: red }</style>"),
    ],
)
def test_the_template_scan_sees_inline_script(pattern, sample):
    assert pattern.search(sample)


def test_a_css_selector_in_a_trigger_is_no_filter():
    assert not TRIGGER_FILTER.search('hx-trigger="input changed from:input[name=q]"')


def test_a_data_attribute_or_stylesheet_link_is_no_inline_style():
    assert not INLINE_STYLE.search('<div data-style="x"><link rel="stylesheet" href="a.css">')


def test_no_template_runs_inline_script():
    # The Content-Security-Policy allows scripts from our own files only: no on* handlers, no
    # inline <script>, no hx-trigger filters (htmx evaluates those as code).
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        source = path.read_text()
        for pattern in (INLINE_HANDLER, INLINE_SCRIPT, TRIGGER_FILTER):
            found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(source)]
    assert found == []


def test_no_template_carries_inline_style():
    # style-src 'self' refuses style="…" attributes and <style> elements: the browser drops
    # them, so whatever they drew (a bar's width) is not drawn. Widths go in SVG attributes.
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        if path.relative_to(ROOT) in OWN_POLICY:
            continue
        source = JINJA_COMMENT.sub("", path.read_text())  # a comment may name what it avoids
        found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in INLINE_STYLE.finditer(source)]
    assert found == []
