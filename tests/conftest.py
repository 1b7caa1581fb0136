"""Shared fixtures. Two host devices let the pmap path run on a CPU-only machine."""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from smile_jax.data import sources  # noqa: E402


@pytest.fixture(scope="session")
def shared_data_dir():
  path = sources.data_dir()
  if not os.path.isdir(os.path.join(path, "SMILEsmileD")):
    pytest.fail(f"the shared datasets are expected at {path} (set ${sources.DATA_DIR_ENV})")
  return path


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds"))


def face_like(seed: int, size: int = 64, smiling: bool = False) -> np.ndarray:
  """A synthetic grayscale 'face': noise plus a dark mouth bar, wider when smiling."""
  rng = np.random.default_rng(seed)
  image = rng.integers(90, 160, (size, size), dtype=np.uint8)
  half = size // 4 + (size // 8 if smiling else 0)
  image[int(size * 0.7):int(size * 0.78), size // 2 - half:size // 2 + half] = 30
  return image


def write_jpeg(path: str, image: np.ndarray) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  assert cv2.imwrite(path, image)
  return path
