"""Data flows one way, up the layers: each folder imports only from the folders below it.

The folders, bottom to top: the library's sub-packages (smile_jax/), then compile/ (which takes
specs and weights from the library), then app/ (the applications that glue the two), then the
thin launchers in experiments/. The folder graph must have no cycle, and every import must point
down this list or stay in its own folder.
"""

import ast
import glob
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Bottom to top. eval's scoring sits below train because training validates with it (AUC), and a
# finished run (train/run.py) is training followed by evaluation.
LAYERS = ("smile_jax/io", "smile_jax/data", "smile_jax/models", "smile_jax/cost", "smile_jax/eval",
          "smile_jax/train", "smile_jax/search", "compile", "app", "experiments")
PACKAGES = {layer.replace("/", "."): layer for layer in LAYERS}


def _imports(path: str) -> set[str]:
  tree = ast.parse(open(path).read(), path)
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
  return names


def _folder_of(module: str) -> str | None:
  """The layer folder a dotted module name lies in (None: outside the project's layers)."""
  for package, folder in PACKAGES.items():
    if module == package or module.startswith(package + "."):
      return folder
  return None


def folder_graph() -> dict[str, set[str]]:
  """Folder -> the other layer folders its modules import."""
  graph = {}
  for folder in LAYERS:
    targets = set()
    for path in glob.glob(os.path.join(REPO, folder, "*.py")):
      targets |= {_folder_of(n) for n in _imports(path)}
    graph[folder] = targets - {None, folder}
  return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
  """A cycle of the graph as a path that starts and ends at one node, or None."""
  state = {}

  def visit(node, path):
    state[node] = "open"
    for nxt in sorted(graph.get(node, ())):
      if state.get(nxt) == "open":
        return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
      if nxt not in state:
        found = visit(nxt, path + [nxt])
        if found:
          return found
    state[node] = "done"
    return None

  for node in sorted(graph):
    if node not in state:
      found = visit(node, [node])
      if found:
        return found
  return None


def test_every_library_module_lies_in_a_layer():
  root_modules = {os.path.basename(p) for p in glob.glob(os.path.join(REPO, "smile_jax", "*.py"))}
  assert root_modules <= {"__init__.py"}, (
      f"smile_jax/ holds {sorted(root_modules - {'__init__.py'})}: put each in the sub-package of "
      "its layer, so that the folder graph stays one-way")
  packages = {os.path.relpath(os.path.dirname(p), REPO)
              for p in glob.glob(os.path.join(REPO, "smile_jax", "*", "__init__.py"))}
  assert packages <= set(LAYERS), f"add {sorted(packages - set(LAYERS))} to LAYERS in its place"


def test_find_cycle_sees_a_cycle():
  assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
  assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_folder_graph_has_no_cycle():
  assert find_cycle(folder_graph()) is None


@pytest.mark.parametrize("folder", LAYERS)
def test_no_import_from_a_layer_above(folder):
  files = glob.glob(os.path.join(REPO, folder, "*.py"))
  assert files
  above = LAYERS[LAYERS.index(folder) + 1:]
  for path in files:
    bad = sorted(n for n in _imports(path) if _folder_of(n) in above)
    assert not bad, f"{os.path.relpath(path, REPO)} imports {bad} from a layer above it"
