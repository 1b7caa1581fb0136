"""Data flows one way, down the layers: each package imports only from the layers below it."""

import ast
import glob
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# package -> module prefixes it must never import (the layers above it).
FORBIDDEN = {
    "smile_jax/data": ("smile_jax.models", "smile_jax.train", "smile_jax.eval", "smile_jax.search",
                       "smile_jax.runs", "smile_jax.job", "smile_jax.deploy", "compile"),
    "smile_jax/models": ("smile_jax.train", "smile_jax.eval", "smile_jax.search", "smile_jax.runs",
                         "smile_jax.job", "smile_jax.deploy", "compile"),
    "smile_jax/train": ("smile_jax.eval.evaluate", "smile_jax.search", "smile_jax.runs",
                        "smile_jax.job", "smile_jax.deploy", "compile"),
    "smile_jax/eval": ("smile_jax.train", "smile_jax.search", "smile_jax.runs", "smile_jax.job",
                       "smile_jax.deploy", "compile"),
    "compile": ("smile_jax.train", "smile_jax.eval", "smile_jax.search", "smile_jax.runs",
                "smile_jax.job", "smile_jax.deploy", "smile_jax.infer"),
}


def _imports(path: str) -> set[str]:
  tree = ast.parse(open(path).read(), path)
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module:
      names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
  return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_from_a_layer_above(package):
  files = glob.glob(os.path.join(REPO, package, "*.py"))
  assert files
  for path in files:
    bad = sorted(
        n for n in _imports(path) for p in FORBIDDEN[package] if n == p or n.startswith(p + "."))
    assert not bad, f"{os.path.relpath(path, REPO)} imports {bad} from a layer above it"
