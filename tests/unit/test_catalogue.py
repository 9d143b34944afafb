"""tests/catalogue.py against the catalogue and the test files: every RELIABILITY.md id mapped once, every named
test really there, every `na` with its reason; and, visibly, the ids no test proves yet."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from tests.catalogue import CATALOGUE, IDS

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "catalogue.py"


def test_every_id_is_mapped_exactly_once() -> None:
    assert len(IDS) == len(set(IDS)) == 59
    assert sorted(CATALOGUE) == sorted(IDS)
    # a dict literal keeps the last of two equal keys without a word: count them in the source
    [mapping] = [n.value for n in ast.walk(ast.parse(SOURCE.read_text())) if isinstance(n, ast.AnnAssign)
                 and isinstance(n.target, ast.Name) and n.target.id == "CATALOGUE"]  # fmt: skip
    assert isinstance(mapping, ast.Dict)
    keys = [k.value for k in mapping.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    assert len(keys) == len(mapping.keys)
    assert sorted({k for k in keys if keys.count(k) > 1}) == []  # duplicates
    assert sorted(keys) == sorted(IDS)


@cache
def defined_tests(path: str) -> frozenset[str]:
    """`function` and `Class::function` for every test function defined in the file."""
    tree = ast.parse((ROOT / path).read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            methods = [f for f in node.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
            found |= {f"{node.name}::{f.name}" for f in methods if f.name.startswith("test")}
    return frozenset(found)


def test_every_named_test_exists() -> None:
    absent = []
    for key, proof in CATALOGUE.items():
        assert len(proof.tests) == len(set(proof.tests)), key
        for node in proof.tests:
            path, _, name = node.partition("::")
            name = re.sub(r"\[.*\]$", "", name)  # a parametrized case: its function
            if not path.startswith("tests/") or not (ROOT / path).is_file() or name not in defined_tests(path):
                absent.append(f"{key}: {node}")
    assert absent == []


def test_each_status_is_consistent() -> None:
    for key, proof in CATALOGUE.items():
        assert proof.summary.strip(), key
        if proof.na is not None:  # not applicable: a reason, and nothing else
            assert len(proof.na.strip()) >= 15 and not proof.tests and not proof.missing and not proof.partly, key
        elif not proof.missing:  # proven, fully or partly: by something
            assert proof.tests, f"{key} names no test: missing=True or na='why'"
        assert proof.partly is None or proof.partly.strip(), key


def test_no_id_is_missing() -> None:
    assert [key for key in IDS if CATALOGUE[key].missing] == []
