"""The rules of docs/target-layout.md, read from the source with `ast` (imports inside functions and
under TYPE_CHECKING included): who may import the vendor, the base modules, settings and the Event
Handler, what the Lambda handlers reach, and how thin they are."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.support import ROOT

CORE = ROOT / "layers" / "core"
PACKAGE = CORE / "relay"
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))

VENDOR = "relay.vendors.meta_capi"
BASE = frozenset(
    {
        "relay.observability",
        "relay.settings",
        "relay.aws",
        "relay.queue",
        "relay.ledger",
        "relay.outbound",
        "relay.pii",
        "relay.errors",
    }
)
SETTINGS_READERS = ("relay.apps", "relay.api", "relay.collector", "relay.local")
EVENT_HANDLER = "aws_lambda_powertools.event_handler"
# The one exception to the vendor rule: the dev-only Graph emulator enforces Meta's own limits (it never
# ships: see test_nothing_a_handler_imports_reaches_local). Drop it when the emulator moves or stops.
VENDOR_EXCEPTIONS = {"relay.local.graph": {"relay.vendors.meta_capi.limits"}}


def _name(path: Path) -> str:
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _owner(name: str) -> str | None:
    """The relay module `name` is (or is inside: `relay.queue.Parked` → relay.queue), else None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def _imports(path: Path, module: str | None) -> set[str]:
    """Every name imported anywhere in the file; `from a import b` gives `a` and `a.b`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                assert module is not None, f"{path}: relative import outside the package"
                anchor = module.split(".")
                if not _is_package(module):
                    anchor.pop()
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@cache
def imports_of(module: str) -> frozenset[str]:
    return frozenset(_imports(MODULES[module], module))


def relay_imports(module: str) -> set[str]:
    """The relay modules `module` imports (what it names, not the packages around them)."""
    return {owner for name in imports_of(module) if (owner := _owner(name)) is not None} - {module}


def _with_parents(module: str) -> Iterator[str]:
    """Importing a.b.c runs a/__init__, a/b/__init__ and a/b/c."""
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        yield ".".join(parts[:end])


def reachable(start: set[str]) -> set[str]:
    """Every relay module importing `start` runs, transitively (parent packages included)."""
    seen: set[str] = set()
    todo = [m for s in start for m in _with_parents(s) if m in MODULES]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(p for m in relay_imports(module) for p in _with_parents(m) if p in MODULES)
    return seen


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


# ---- the reader itself --------------------------------------------------------------------------------


def test_the_reader_sees_top_level_function_level_and_type_checking_imports():
    # GIVEN modules known to import at each level / WHEN read / THEN every kind is found
    assert "relay.secrets" in relay_imports("relay.apps.deliver")  # inside build_deps
    assert "relay.integrations" in relay_imports("relay.debugger")  # under TYPE_CHECKING
    assert "relay.queue" in relay_imports("relay.redrive")  # `from relay import queue`
    assert VENDOR in relay_imports("relay.vendors")
    assert len(MODULES) > 40


# ---- the rules ----------------------------------------------------------------------------------------


def test_nothing_outside_vendors_imports_the_meta_vendor_module():
    # GIVEN every module outside relay/vendors/
    # WHEN their imports are read
    offenders = {
        module: {m for m in relay_imports(module) if _within(m, (VENDOR,))}
        for module in MODULES
        if not _within(module, ("relay.vendors",))
    }
    # THEN none reaches relay.vendors.meta_capi but the one documented exception
    assert {m: names for m, names in offenders.items() if names} == VENDOR_EXCEPTIONS


@pytest.mark.parametrize("module", sorted(BASE))
def test_base_modules_import_only_each_other_within_relay(module):
    # GIVEN a base module / WHEN its relay imports are read / THEN they are base modules too
    assert relay_imports(module) - {"relay"} <= BASE


def test_only_composition_roots_and_local_read_settings_or_use_the_event_handler():
    # GIVEN every module / WHEN the ones importing relay.settings or Powertools' Event Handler are listed
    readers = {
        module
        for module in MODULES
        if module != "relay.settings"
        and (
            "relay.settings" in relay_imports(module)
            or any(n == EVENT_HANDLER or n.startswith(EVENT_HANDLER + ".") for n in imports_of(module))
        )
    }
    # THEN each is under apps/, api/, collector/ or local/ (and the roots that exist do read settings)
    assert {m for m in readers if not _within(m, SETTINGS_READERS)} == set()
    assert {"relay.apps.deliver", "relay.apps.redrive", "relay.apps.collect"} <= readers


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_nothing_a_handler_imports_reaches_local(handler):
    # GIVEN a Lambda handler / WHEN everything it imports is followed, transitively
    shipped = reachable({n for n in _imports(handler, None) if _owner(n) is not None})
    # THEN relay.local is never among it (and the walk did reach delivery's, redrive's or the collector's core)
    assert {m for m in shipped if _within(m, ("relay.local",))} == set()
    assert "relay.observability" in shipped
    assert {"relay.delivery.send", "relay.redrive", "relay.collector.ingest"} & shipped


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_a_handler_is_decorators_from_observability_around_one_call_into_apps(handler):
    # GIVEN a Lambda handler file
    tree = ast.parse(handler.read_text(encoding="utf-8"))
    # WHEN its statements and imports are read
    origin: dict[str, str] = {}
    functions: list[ast.FunctionDef] = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom):
            origin.update({alias.asname or alias.name: node.module or "" for alias in node.names})
        elif isinstance(node, ast.FunctionDef):
            functions.append(node)
        else:
            pytest.fail(f"{handler}: unexpected statement at line {node.lineno}")
    # THEN it imports only typing and relay.apps.* / relay.observability, both of them
    sources = set(origin.values())
    relay_sources = {s for s in sources if s.startswith("relay")}
    assert sources - relay_sources <= {"typing", "__future__"}
    assert {s for s in relay_sources if not s.startswith("relay.apps.")} == {"relay.observability"}
    assert any(s.startswith("relay.apps.") for s in relay_sources)
    # ... and each function is decorated from relay.observability around exactly one call into apps
    assert functions
    for fn in functions:
        assert fn.decorator_list
        for decorator in fn.decorator_list:
            root = decorator.func if isinstance(decorator, ast.Call) else decorator
            assert isinstance(root, ast.Name)
            assert origin[root.id] == "relay.observability"
        body = fn.body[1:] if ast.get_docstring(fn) else fn.body
        assert len(body) == 1
        [statement] = body
        assert isinstance(statement, ast.Return | ast.Expr)
        call = statement.value
        assert isinstance(call, ast.Call)
        assert isinstance(call.func, ast.Name)
        assert origin[call.func.id].startswith("relay.apps.")


def test_make_test_gates_mccabe_15_everywhere_in_shipped_code():
    # GIVEN pyproject.toml / WHEN ruff's lint settings are read
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["lint"]
    complexity_ignores = {
        path for path, codes in lint["per-file-ignores"].items() if "C901" in codes or "C90" in codes
    }
    # THEN C90 is selected at 15, waived nowhere in shipped code (only for the benchmark's straight-line floor)
    assert "C90" in lint["select"]
    assert lint["mccabe"]["max-complexity"] == 15
    assert "C901" not in lint.get("ignore", [])
    assert complexity_ignores == {"bench/floor.py"}
