"""tensorflow-datasets builders (array_record, no TensorFlow) for the face datasets.

  * `Smilesmiled`: SMILEsmileD's 64x64 crops, with the mouth boxes from its `.idx` files.
  * `Genki4k`: GENKI-4K photos in class folders; face detection + crop at build time.
  * `FaceFolder`: any folder of photos in class sub-folders (a user's `smile/`, `not_smile/`).

Every builder stores the same features (see `FEATURES`), so every later stage reads them alike.
Bad files are skipped, counted and named in `build_summary.json` next to the prepared data; a
missing or empty folder fails with a message saying what to do. Use `build(...)`, which prepares
the dataset once (later calls reuse it) and returns its examples as numpy arrays plus the summary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import numpy as np
import tensorflow_datasets as tfds
from tqdm import tqdm

from smile_jax.data import faces, images as images_lib, sources

tfds.display_progress_bar(False)  # ours (per image, with the dataset name) is enough

SUMMARY_FILE = "build_summary.json"


@dataclasses.dataclass
class FaceDatasetConfig(tfds.core.BuilderConfig):
  image_size: int = 64
  max_per_class: int = 0    # 0 = all; small values make quick subsets for tests and smoke runs
  source_dir: str = ""      # FaceFolder only


def make_config(image_size: int = 64,
                max_per_class: int = 0,
                source_dir: str = "") -> FaceDatasetConfig:
  name = f"{image_size}px" + (f"_first{max_per_class}" if max_per_class else "")
  if source_dir:
    name += "_" + hashlib.sha256(os.path.abspath(source_dir).encode()).hexdigest()[:8]
  return FaceDatasetConfig(name=name, image_size=image_size, max_per_class=max_per_class,
                           source_dir=source_dir)


def _features(size: int) -> tfds.features.FeaturesDict:
  return tfds.features.FeaturesDict({
      "image": tfds.features.Tensor(shape=(size, size, 1), dtype=np.uint8),
      "label": tfds.features.ClassLabel(names=["not_smiling", "smiling"]),
      "key": tfds.features.Tensor(shape=(), dtype=np.str_),
      "face_found": tfds.features.Tensor(shape=(), dtype=np.bool_),
      "face_box": tfds.features.Tensor(shape=(4,), dtype=np.int32),   # x, y, w, h in the photo
      "mouth_box": tfds.features.Tensor(shape=(4,), dtype=np.int32),  # in the crop; -1 if unknown
  })


def _limit(examples: list[sources.Example], per_class: int) -> list[sources.Example]:
  if not per_class:
    return examples
  kept, seen = [], {0: 0, 1: 0}
  for ex in examples:
    if seen[ex.label] < per_class:
      kept.append(ex)
      seen[ex.label] += 1
  return kept


class _FaceBuilder(tfds.core.GeneratorBasedBuilder):
  """Shared generation: read, crop, record skips; subclasses say where examples come from."""
  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = [make_config()]
  CROPS_ARE_FACES = False  # True when the source images already are tight face crops
  HOMEPAGE = ""

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(builder=self, description=self.__doc__,
                                 features=_features(self.builder_config.image_size),
                                 supervised_keys=("image", "label"), homepage=self.HOMEPAGE)

  def _source_examples(self, dl_manager) -> tuple[list[sources.Example], str]:
    raise NotImplementedError

  def _split_generators(self, dl_manager):
    examples, root = self._source_examples(dl_manager)
    self.summary = {"dataset": self.name, "config": self.builder_config.name, "source": root,
                    "files_seen": len(examples), "examples": 0, "skipped": [],
                    "faces_found": 0, "smiling": 0}
    return {"full": self._generate_examples(_limit(examples, self.builder_config.max_per_class))}

  def _crop(self, ex: sources.Example) -> faces.FaceCrop:
    size = self.builder_config.image_size
    image = images_lib.read_image(ex.path)
    if self.CROPS_ARE_FACES:
      gray = images_lib.to_gray(image)
      return faces.FaceCrop(faces.resize(gray, size), True, (0, 0, gray.shape[1], gray.shape[0]))
    return faces.crop_face(image, size)

  def _generate_examples(self, examples):
    size = self.builder_config.image_size
    for ex in tqdm(examples, desc=f"building {self.name}", unit="img", mininterval=2.0):
      try:
        crop = self._crop(ex)
      except images_lib.BadImage as e:
        self.summary["skipped"].append({"path": e.path, "reason": e.reason})
        continue
      mouth = np.asarray(sources.NO_BOX, np.int32)
      if ex.mouth_box[0] >= 0 and self.CROPS_ARE_FACES:
        scale = size / crop.box[2]
        mouth = np.round(np.asarray(ex.mouth_box) * scale).astype(np.int32)
      self.summary["examples"] += 1
      self.summary["faces_found"] += int(crop.face_found)
      self.summary["smiling"] += int(ex.label)
      yield ex.key, {"image": crop.image[..., None], "label": ex.label, "key": ex.key,
                     "face_found": crop.face_found, "face_box": np.asarray(crop.box, np.int32),
                     "mouth_box": mouth}


def _manual_or_download(dl_manager, url: str, marker: str, inner: str) -> str:
  """The manual dir if it holds `marker`, else the downloaded archive's `inner` folder."""
  manual = dl_manager._manual_dir  # the public property asserts when the folder is missing
  if manual and os.path.exists(os.path.join(manual, marker)):
    return os.fspath(manual)
  try:
    root = os.fspath(dl_manager.download_and_extract(url))
  except Exception as e:  # noqa: BLE001 - any network or archive failure gets the same advice
    raise sources.DataError(
        f"{marker}/ not found under {manual} and the download of {url} failed ({type(e).__name__}: "
        f"{e}); put the dataset there, or point --data_dir / ${sources.DATA_DIR_ENV} at its folder"
    ) from None
  tops = [d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))]
  return os.path.join(root, tops[0], inner) if len(tops) == 1 else os.path.join(root, inner)


class Smilesmiled(_FaceBuilder):
  """SMILEsmileD v0.5: 13,165 64x64 grayscale face crops from LFW, 28% smiling, mouth boxes."""
  CROPS_ARE_FACES = True
  HOMEPAGE = "https://github.com/hromi/SMILEsmileD"
  MANUAL_DOWNLOAD_INSTRUCTIONS = ("Point --data_dir (or $SMILE_JAX_DATA_DIR) at a folder holding "
                                  "SMILEsmileD/SMILEs/..., or let the builder download it.")

  def _source_examples(self, dl_manager):
    root = _manual_or_download(dl_manager, sources.SMILESMILED_URL, "SMILEs", "")
    examples = sources.smilesmiled_examples(root)
    counts = {c: sum(e.key.startswith(c) for e in examples) for c in sources.SMILESMILED_COUNTS}
    if counts == sources.SMILESMILED_COUNTS:
      digest = sources.content_sha256(root, [e.path for e in examples])
      if digest != sources.SMILESMILED_CONTENT_SHA256:
        raise sources.DataError(f"{root}: SMILEsmileD content checksum {digest} differs from the "
                                f"pinned {sources.SMILESMILED_CONTENT_SHA256}: files were changed; "
                                "restore a clean copy")
    return examples, root


class _DetectingBuilder(_FaceBuilder):
  """Builders of photos whose faces are found at build time (smile_jax/data/faces.py)."""
  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {"1.1.0": "Faces the first cascade misses are looked for again (faces.ATTEMPTS)."}


class Genki4k(_DetectingBuilder):
  """GENKI-4K (MPLab, UCSD): in-the-wild photos in Smile/ and not_Smile/; faces detected at
  build."""
  HOMEPAGE = "https://inc.ucsd.edu/mplab/398/"
  MANUAL_DOWNLOAD_INSTRUCTIONS = "Point the manual dir at a folder with Smile/ and not_Smile/."

  def _source_examples(self, dl_manager):
    root = _manual_or_download(dl_manager, sources.GENKI4K_URL, "Smile", "files")
    return sources.class_folder_examples(root), root


class FaceFolder(_DetectingBuilder):
  """A user's photos in class sub-folders (smile/, not_smile/); faces detected at build."""

  def _source_examples(self, dl_manager):
    root = self.builder_config.source_dir
    return sources.class_folder_examples(root), root


BUILDERS = {"smilesmiled": (Smilesmiled, "SMILEsmileD"), "genki4k": (Genki4k, "genki4k-dev")}


@dataclasses.dataclass
class FaceDataset:
  """A built dataset as numpy arrays, in the builder's stable order, and its build summary."""
  name: str
  images: np.ndarray       # (N, S, S, 1) uint8
  labels: np.ndarray       # (N,) int32
  keys: np.ndarray         # (N,) str
  face_found: np.ndarray   # (N,) bool
  face_box: np.ndarray     # (N, 4) int32
  mouth_box: np.ndarray    # (N, 4) int32
  summary: dict            # the build summary; a combined dataset's holds its parts' as "parts"
  domain: np.ndarray       # (N,) str: the dataset each image comes from

  def subset(self, idx: np.ndarray) -> "FaceDataset":
    return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx],
                               keys=self.keys[idx], face_found=self.face_found[idx],
                               face_box=self.face_box[idx], mouth_box=self.mouth_box[idx],
                               domain=self.domain[idx])

  @property
  def summaries(self) -> list[dict]:
    """The build summary of each dataset this one holds."""
    return self.summary.get("parts", [self.summary])

  @property
  def domains(self) -> list[str]:
    """The datasets present, in the order they were combined."""
    return list(dict.fromkeys(self.domain.tolist()))


def combine(datasets: list[FaceDataset]) -> FaceDataset:
  """Several datasets as one (train on all of them; `domain` says where each image is from).

  The first keeps its keys (its split manifest stays valid); the others' keys get their
  dataset's name as a prefix, `name:key`, so keys stay unique.
  """
  if len(datasets) == 1:
    return datasets[0]
  shapes = {d.images.shape[1:] for d in datasets}
  if len(shapes) > 1:
    raise ValueError(f"datasets {[d.name for d in datasets]} have different image shapes "
                     f"{sorted(shapes)}: build them at one config.data.image_size")
  join = lambda field: np.concatenate([getattr(d, field) for d in datasets])
  keys = [datasets[0].keys] + [np.char.add(f"{d.name}:", d.keys) for d in datasets[1:]]
  name = "+".join(d.name for d in datasets)
  return FaceDataset(name=name, images=join("images"), labels=join("labels"),
                     keys=np.concatenate(keys), face_found=join("face_found"),
                     face_box=join("face_box"), mouth_box=join("mouth_box"),
                     summary={"dataset": name, "parts": [d.summary for d in datasets]},
                     domain=join("domain"))


def build(name: str, tfds_dir: str, data_dir: str | None = None, image_size: int = 64,
          max_per_class: int = 0) -> FaceDataset:
  """Prepares dataset `name` ('smilesmiled', 'genki4k' or a folder path) and loads it.

  `tfds_dir` is where prepared array_record files live; `data_dir` holds the raw datasets.
  """
  if name in BUILDERS:
    cls, sub = BUILDERS[name]
    config = make_config(image_size, max_per_class)
    manual = os.path.join(sources.data_dir(data_dir), sub)
  elif os.path.isdir(name):
    cls, config, manual = FaceFolder, make_config(image_size, max_per_class, name), name
  else:
    raise sources.DataError(f"unknown dataset {name!r}: use one of {sorted(BUILDERS)} or the path "
                            "of a folder with smile/ and not_smile/ sub-folders")
  # A config equal to a predefined one must be passed by name.
  builder = cls(
      config=config.name if config.name in cls.builder_configs else config, data_dir=tfds_dir)
  builder.download_and_prepare(file_format="array_record",
                               download_config=tfds.download.DownloadConfig(manual_dir=manual))
  summary_path = os.path.join(builder.data_dir, SUMMARY_FILE)
  if getattr(builder, "summary", None):
    builder.summary["face_detection_rate"] = builder.summary["faces_found"] / max(
        1, builder.summary["examples"])
    with open(summary_path, "w") as file:
      json.dump(builder.summary, file, indent=1)
  with open(summary_path) as file:
    summary = json.load(file)
  source = builder.as_data_source()["full"]
  rows = [source[i] for i in range(len(source))]
  if not rows:
    raise sources.DataError(f"{name}: every file was skipped; see {summary_path}")
  stack = lambda k, dt: np.stack([np.asarray(r[k], dt) for r in rows])
  return FaceDataset(
      name=builder.name,
      images=stack("image", np.uint8),
      labels=stack("label", np.int32),
      keys=np.asarray(
          [r["key"].decode() if isinstance(r["key"], bytes) else str(r["key"]) for r in rows]),
      face_found=stack("face_found", bool),
      face_box=stack("face_box", np.int32),
      mouth_box=stack("mouth_box", np.int32),
      summary=summary,
      domain=np.full(len(rows), builder.name))
