"""The map matches the code: WORKSPACE.md names every module, and stays a map."""

import glob
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _modules() -> list[str]:
  paths = []
  for folder in ("smile_jax", "compile", "app", "experiments", "configs", "benchmarks"):
    paths += glob.glob(os.path.join(REPO, folder, "**", "*.py"), recursive=True)
  return sorted(os.path.relpath(p, REPO) for p in paths if not p.endswith("__init__.py"))


def test_the_workspace_layout_names_every_module():
  text = open(os.path.join(REPO, "WORKSPACE.md")).read()
  layout = text[text.index("## Layout"):text.index("\n## ", text.index("## Layout") + 3)]
  named = set(re.findall(r"`([^`]+)`", layout))
  missing = []
  for path in _modules():
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    # A path, its file name beside its folder's row, or its stem in its folder's row.
    row = next((line for line in layout.splitlines() if f"`{folder}/" in line), "")
    if not (path in named or (name in named and row) or f"`{stem}`" in row):
      missing.append(path)
  assert not missing, f"WORKSPACE.md's layout does not name {missing}"


def test_the_workspace_is_a_map_and_no_text_speaks_of_sessions():
  assert len(open(os.path.join(REPO, "WORKSPACE.md")).read().splitlines()) < 300
  for path in [os.path.join(REPO, "README.md"), os.path.join(REPO, "WORKSPACE.md")] + [
      os.path.join(REPO, p) for p in _modules()]:
    assert "session" not in open(path).read().lower(), f"{path} speaks of sessions"
