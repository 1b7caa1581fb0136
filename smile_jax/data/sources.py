"""Where face images come from: the datasets' on-disk layouts, their public sources, the data dir.

Two layouts are understood:
  * SMILEsmileD's own (`SMILEs/positives/positives7/*.jpg`, `SMILEs/negatives/negatives7/*.jpg`,
    mouth boxes in `SMILEs/positives/smiles_01_pos.idx`), already cropped to 64x64 faces;
  * a folder of photos in class sub-folders (GENKI-4K's `Smile/` and `not_Smile/`, or a user's own
    `smile/` and `not_smile/`), which still need face detection.

The data directory is `--data_dir`, else `$SMILE_JAX_DATA_DIR`, else `../shared/datasets` next to
the repository (where CI keeps it). When a dataset is missing locally, the tfds builders download
it from the pinned public sources below.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

from smile_jax.data import images as images_lib

DATA_DIR_ENV = "SMILE_JAX_DATA_DIR"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA_DIR = os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "datasets"))

# GitHub archives are not byte-stable across time, so the checksum is over the extracted content:
# sha256 of the sorted "relative/path sha256(file)" lines of every SMILEs/*/*7/*.jpg (13,165 files).
SMILESMILED_COMMIT = "d086cf70c8918ac71da012d948b207abc4b11478"
SMILESMILED_URL = f"https://github.com/hromi/SMILEsmileD/archive/{SMILESMILED_COMMIT}.zip"
SMILESMILED_CONTENT_SHA256 = "8bdf596bc6a152f0382fb570925206f320857f40fb8284e080918137c9f79d15"
SMILESMILED_COUNTS = {"positives": 3690, "negatives": 9475}

# GENKI-4K republished in class folders (files/Smile, files/not_Smile), all 4,000 photos.
GENKI4K_COMMIT = "3e66b5eaca5ba596da88ae803c3b9d058e855596"
GENKI4K_URL = f"https://github.com/Novinnam/smile_detection_on_Genki4K/archive/{GENKI4K_COMMIT}.zip"

POSITIVE_FOLDERS = {"smile", "smiles", "smiling", "positive", "positives", "1"}
NEGATIVE_FOLDERS = {"not_smile", "not_smiling", "non_smile", "no_smile", "nosmile", "notsmile",
                    "negative", "negatives", "0"}
NO_BOX = (-1, -1, -1, -1)


class DataError(ValueError):
  """A dataset folder that is missing or laid out wrongly; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Example:
  key: str                  # path relative to the dataset root: stable across machines
  path: str
  label: int                # 1 = smiling
  mouth_box: tuple[int, int, int, int] = NO_BOX  # x, y, w, h in the source image


def data_dir(flag_value: str | None = None) -> str:
  return flag_value or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR


def _require_dir(path: str, what: str) -> None:
  if not os.path.isdir(path):
    raise DataError(f"{what} not found at {path}: pass --data_dir (or set ${DATA_DIR_ENV}) to the "
                    "folder holding the datasets, or let the builder download it")


def _read_mouth_boxes(idx_path: str) -> dict[str, tuple[int, int, int, int]]:
  boxes = {}
  with open(idx_path) as file:
    for line in file:
      parts = line.split()
      if len(parts) >= 6 and parts[1] == "1":
        boxes[parts[0]] = tuple(int(v) for v in parts[2:6])
  return boxes


def smilesmiled_examples(root: str) -> list[Example]:
  """SMILEsmileD's crops with labels and mouth boxes (every file in its class folders)."""
  smiles = os.path.join(root, "SMILEs")
  _require_dir(smiles, "SMILEsmileD's SMILEs/ folder")
  idx = os.path.join(smiles, "positives", "smiles_01_pos.idx")
  mouths = _read_mouth_boxes(idx) if os.path.exists(idx) else {}
  examples = []
  for label, cls in ((1, "positives"), (0, "negatives")):
    folder = os.path.join(smiles, cls, f"{cls}7")
    _require_dir(folder, f"SMILEsmileD's {cls}7/ folder")
    for path in images_lib.list_files(folder):
      rel = os.path.relpath(path, os.path.join(smiles, cls))  # "positives7/3.jpg", as in the .idx
      examples.append(Example(f"{cls}/{rel}", path, label, mouths.get(rel, NO_BOX)))
  if not examples:
    raise DataError(f"no images under {smiles}/{{positives,negatives}}: the folders are empty")
  return examples


def class_folder_examples(root: str) -> list[Example]:
  """Photos in class sub-folders (names as in POSITIVE_FOLDERS / NEGATIVE_FOLDERS)."""
  _require_dir(root, "image folder")
  classes = {}
  for name in sorted(os.listdir(root)):
    if not os.path.isdir(os.path.join(root, name)) or name.startswith("."):
      continue
    norm = name.lower().replace("-", "_").replace(" ", "_")
    if norm in POSITIVE_FOLDERS:
      classes[name] = 1
    elif norm in NEGATIVE_FOLDERS:
      classes[name] = 0
    else:
      raise DataError(f"{os.path.join(root, name)}: unknown class folder; name it one of "
                      f"{sorted(POSITIVE_FOLDERS)} (smiling) or {sorted(NEGATIVE_FOLDERS)}")
  if sorted(set(classes.values())) != [0, 1]:
    raise DataError(f"{root} needs one smiling and one not-smiling sub-folder (e.g. smile/ and "
                    f"not_smile/), found {sorted(classes) or 'none'}")
  examples = []
  for name, label in classes.items():
    examples += [Example(os.path.relpath(p, root), p, label)
                 for p in images_lib.list_files(os.path.join(root, name))]
  if not examples:
    raise DataError(f"no files under {root}'s class folders: they are empty")
  return examples


def content_sha256(root: str, paths: list[str]) -> str:
  """Checksum of a set of files, independent of archive packaging (see
  SMILESMILED_CONTENT_SHA256)."""
  digest = hashlib.sha256()
  for path in sorted(paths, key=lambda p: os.path.relpath(p, root)):
    with open(path, "rb") as file:
      file_hash = hashlib.sha256(file.read()).hexdigest()
    digest.update(f"{os.path.relpath(path, root)} {file_hash}\n".encode())
  return digest.hexdigest()
