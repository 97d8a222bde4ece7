"""Dependencies point one way: ``streaming`` ← ``execution/intel`` ← hooks, CLI,
dashboard. Checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return sorted(found)


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("streaming", ("execution", "dashboard")),
        ("execution/intel", ("execution.executor_live", "execution.order_router", "dashboard")),
        ("dashboard", ("streaming", "execution")),
    ],
)
def test_no_import_against_the_direction(package, forbidden):
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert offenders == []


def test_the_check_sees_imports():
    """Guard: the scanner finds a known import, so an empty result above means something."""
    assert "streaming.follow" in imports(ROOT / "execution" / "intel" / "follow_runner.py")


# numpy calls that go through BLAS, which starts its own threads: in a replay's worker
# processes they spin against each other and cost more than the fold they serve.
BLAS = {"dot", "vdot", "inner", "matmul", "tensordot", "einsum", "linalg"}


def blas_uses(source: str) -> list[int]:
    """Lines of ``np.<BLAS name>`` uses and ``@`` products."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in BLAS:
            base = node.value
            if isinstance(base, ast.Name) and base.id in {"np", "numpy"}:
                found.append(node.lineno)
        elif isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.MatMult):
            found.append(node.lineno)
    return sorted(found)


@pytest.mark.parametrize("package", ["streaming", "execution/intel"])
def test_folds_use_no_blas(package):
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in modules(package)
        for line in blas_uses(path.read_text())
    ]
    assert offenders == []


def test_the_blas_check_sees_uses():
    source = "import numpy as np\nx = np.dot(a, b)\ny = a @ b\nz = np.linalg.norm(a)\n"
    assert blas_uses(source) == [2, 3, 4]
