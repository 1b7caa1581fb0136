"""JSON files of a workdir whose paths survive the workdir being moved or copied elsewhere.

`dump(obj, path)` writes every path field (keys in `PATH_KEYS`) that lies inside `root` (by
default the JSON file's folder; a workdir that holds the file and what it points to, when the file
lies deeper) relative to the file's folder; `load(path)` turns them back into absolute paths. A
path outside `root` (a dataset, say) is kept absolute. A string under any other key that is an
absolute path inside `root` is an error naming the key: a new path field must join `PATH_KEYS`,
or the file would stop working once the workdir moves. An empty path field means unset and stays
empty.
"""

from __future__ import annotations

import json
import os

PATH_KEYS = frozenset({"run_dir", "chosen_run_dir", "split_manifest", "directory", "run_base",
                       "sparkfun_edge_image", "data_dir", "tfds_dir", "teacher",
                       "split_run"})


def _map_paths(obj, fn, other=lambda key, value: value, key=None):
  if isinstance(obj, dict):
    return {k: fn(v) if k in PATH_KEYS and isinstance(v, str) and v else _map_paths(v, fn, other, k)
            for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [_map_paths(v, fn, other, key) for v in obj]
  return other(key, obj) if isinstance(obj, str) else obj


def inside(target: str, base: str) -> bool:
  """Whether `target` is `base` or lies under it."""
  rel = os.path.relpath(os.path.abspath(target), base)
  return not (rel == ".." or rel.startswith(".." + os.sep))


def dump(obj, path: str, root: str | None = None, **json_kwargs) -> None:
  base = os.path.dirname(os.path.abspath(path))
  root = os.path.abspath(root or base)

  def relative(target: str) -> str:
    if inside(target, root):
      return os.path.relpath(os.path.abspath(target), base)
    return os.path.abspath(target)

  def not_a_path(key, value: str) -> str:
    if os.path.isabs(value) and inside(value, root):
      raise ValueError(f"{path}: field {key!r} holds the absolute path {value!r} inside the "
                       "workdir; add the key to smile_jax/io/jsonfile.py PATH_KEYS so it is "
                       "written relative to the file")
    return value

  with open(path, "w") as file:
    json.dump(_map_paths(obj, relative, not_a_path), file, **json_kwargs)


def load(path: str):
  base = os.path.dirname(os.path.abspath(path))
  with open(path) as file:
    return _map_paths(json.load(file), lambda stored: os.path.normpath(os.path.join(base, stored)))
