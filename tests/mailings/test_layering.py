"""The layers of the mailings app: the domain (models, forms, selectors, services, the occurrence steps,
compose) never imports the sending engine; the engine imports the domain. Checked in a fresh interpreter,
so a module that some test imported earlier cannot hide an import."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import backend.mailings

MAILINGS = Path(backend.mailings.__file__).parent
ROOT = MAILINGS.parent.parent

# Every module of the domain: each is imported, and none of them may bring in the engine.
DOMAIN = sorted(
    "backend.mailings." + ".".join(path.relative_to(MAILINGS).with_suffix("").parts).removesuffix(".__init__")
    for path in MAILINGS.rglob("*.py")
    if not {"sending", "migrations", "management"} & set(path.relative_to(MAILINGS).parts)
)

PROBE = """
import json, sys
import django
django.setup()
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
domain = sorted(m for m in sys.modules if m.startswith("backend.mailings.sending"))
import backend.mailings.sending
engine = sorted(m for m in sys.modules if m.startswith("backend.mailings.sending"))
print(json.dumps({"domain": domain, "engine": engine}))
"""


def loaded_modules(*modules: str) -> dict[str, list[str]]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "backend.settings", "DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_domain_imports_nothing_of_the_sending_engine():
    assert "backend.mailings.services" in DOMAIN and "backend.mailings.services.previews" in DOMAIN
    assert "backend.mailings.scheduling" in DOMAIN and "backend.mailings.compose" in DOMAIN
    loaded = loaded_modules(*DOMAIN)
    assert loaded["domain"] == []
    # The probe sees the engine once something imports it: the empty list above is not a blind spot.
    assert {"backend.mailings.sending.engine", "backend.mailings.sending.occurrences"} <= set(
        loaded["engine"]
    )


def function_level_imports(path: Path) -> list[int]:
    """The line of every import inside a function, unless a comment on its line or the line above says
    why (an import deferred to dodge a cycle is a layering mistake, not a reason)."""
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import | ast.ImportFrom):
                line, above = lines[node.lineno - 1], lines[node.lineno - 2].strip()
                if "#" not in line and not above.startswith("#"):
                    found.append(node.lineno)
    return found


def test_no_import_in_the_mailings_app_is_deferred_into_a_function():
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(MAILINGS.rglob("*.py"))
        for line in function_level_imports(path)
    ]
    assert found == []


def test_the_import_check_finds_a_deferred_import_and_accepts_one_that_says_why(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "def send():\n"
        "    from .sending import send_due\n"
        "\n"
        "    # Loaded only when used: a large optional library.\n"
        "    import numpy\n"
        "    import scipy  # the same\n"
        "    return send_due, numpy, scipy\n"
    )
    assert function_level_imports(module) == [2]
