"""The firmware's face locator (C, in unicorn) against the numpy reference: the same hits and boxes."""

import glob
import os

import numpy as np
import pytest

from compile import haar_locator
from smile_jax.data import camera_frames, viola_jones


@pytest.fixture(scope="module")
def locator():
  # Faces from 64 px up: fewer levels than the default, the same code paths, a quicker test.
  return viola_jones.Locator(viola_jones.Cascade.from_opencv(), min_face=64)


@pytest.fixture(scope="module")
def emulated(locator, tmp_path_factory):
  return haar_locator.Emulated(haar_locator.build_elf(locator, str(tmp_path_factory.mktemp("fl"))))


def _frames(shared_data_dir):
  paths = sorted(glob.glob(os.path.join(shared_data_dir, "genki4k-dev", "Smile", "*.jpg")))[:2]
  sources = [camera_frames.source_from_photo(p, p, 1) for p in paths]
  rng = np.random.default_rng(0)
  edge = camera_frames.draw("portrait", [sources[1]], sources, seed=11).image
  return {"portrait": camera_frames.draw("portrait", [sources[0]], sources, seed=3).image,
          "two": camera_frames.draw("two", sources, sources, seed=5).image,
          "cut by the edge": np.roll(edge, 150, axis=1),
          "black": np.zeros((244, 324), np.uint8), "saturated": np.full((244, 324), 255, np.uint8),
          "noise": rng.integers(0, 256, (244, 324), dtype=np.uint8)}


def test_the_firmware_finds_what_the_reference_finds(locator, emulated, shared_data_dir):
  found_any = False
  for name, frame in _frames(shared_data_dir).items():
    run = emulated.run(frame)
    assert run.hits == locator.hits(frame), name
    assert run.faces == locator.find(frame), name
    assert run.cycles > run.instructions > 0
    for x, y, w, h in run.faces:
      assert w > 0 and h > 0 and x < 324 and y < 244, name
    found_any |= bool(run.faces)
  assert found_any
  assert emulated.run(np.zeros((244, 324), np.uint8)).faces == []


def test_the_tables_name_the_pyramid(locator):
  header = haar_locator.header(locator)
  assert f"#define FACE_LEVELS {len(locator.levels)}" in header
  assert f"#define FACE_MAX_LEVEL_WIDTH {locator.levels[0].width}" in header
  source = haar_locator.source(locator)
  assert f"face_stage_trees[{len(locator.cascade.stage_trees)}]" in source
