"""JSON files of a workdir whose paths survive the workdir being moved or copied elsewhere.

`dump(obj, path)` writes every path field (keys in `PATH_KEYS`) that lies inside the JSON file's
folder relative to that folder; `load(path)` turns them back into absolute paths. A path outside
the folder is kept absolute, and files written with absolute paths by older versions read as
they are, so both forms are understood.
"""

from __future__ import annotations

import json
import os

PATH_KEYS = frozenset({"run_dir", "chosen_run_dir", "split_manifest", "directory"})


def _map_paths(obj, fn):
  if isinstance(obj, dict):
    return {k: fn(v) if k in PATH_KEYS and isinstance(v, str) else _map_paths(v, fn)
            for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [_map_paths(v, fn) for v in obj]
  return obj


def dump(obj, path: str, **json_kwargs) -> None:
  base = os.path.dirname(os.path.abspath(path))

  def relative(target: str) -> str:
    rel = os.path.relpath(os.path.abspath(target), base)
    return os.path.abspath(target) if rel == ".." or rel.startswith(".." + os.sep) else rel

  with open(path, "w") as file:
    json.dump(_map_paths(obj, relative), file, **json_kwargs)


def load(path: str):
  base = os.path.dirname(os.path.abspath(path))
  with open(path) as file:
    return _map_paths(json.load(file), lambda stored: os.path.normpath(os.path.join(base, stored)))
