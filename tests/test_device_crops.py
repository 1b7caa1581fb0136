"""Face crops made the device's way (smile_jax/data/device_crops.py): the jitter's arithmetic and a
crop set cropped exactly as the firmware crops a box."""

import numpy as np
import pytest

from smile_jax.data import camera_frames, device_crops, frame_crop


def _sources(names=("a", "b"), each=4):
  rng = np.random.default_rng(5)
  out = []
  for name in names:
    for i in range(each):
      image = (rng.random((120, 100)) * 60 + 40).astype(np.uint8)
      image[30:90, 20:80] = 230 - 60 * (i % 2)
      out.append(camera_frames.Source(f"{name}:{i}", image, i % 2, (20, 30, 60, 60)))
  return out


def test_no_jitter_keeps_the_box_and_jitter_moves_it_by_about_its_share():
  rng = np.random.default_rng(0)
  assert device_crops.jittered((10, 20, 40, 40), rng, 0.0, 0.0) == (10, 20, 40, 40)
  boxes = np.array([device_crops.jittered((100, 100, 50, 50), rng, 0.1, 0.2) for _ in range(4000)])
  centres = boxes[:, :2] + boxes[:, 2:] / 2
  assert np.std(centres[:, 0] - 125) == pytest.approx(5.0, rel=0.1)      # 0.1 x the side
  assert np.std(np.log2(boxes[:, 2] / 50)) == pytest.approx(0.2, rel=0.1)
  assert abs(np.median(boxes[:, 2]) - 50) <= 1


def test_crops_are_the_devices_crop_of_each_sources_frame():
  sources = _sources()
  crops = device_crops.crop_set(sources, 32, seed=1, shift=0.0, log2_scale=0.0)
  assert crops.images.shape == (8, 32, 32, 1) and crops.images.dtype == np.uint8
  np.testing.assert_array_equal(crops.labels, [s.label for s in sources])
  assert list(crops.domain) == ["a"] * 4 + ["b"] * 4
  assert set(crops.kinds) <= set(camera_frames.DISTANCES)
  # The first crop again by hand: its frame (the seed the set draws), its true box, the crop.
  rng = np.random.default_rng(1 * 1_000_003 + 0)
  kind = list(camera_frames.DISTANCES)[rng.integers(3)]
  frame = camera_frames.draw(kind, [sources[0]], sources, int(rng.integers(2 ** 31)))
  want = frame_crop.box_average(frame.image, *frame_crop.face_square(frame.boxes[0]), 32, 32)
  np.testing.assert_array_equal(crops.images[0, ..., 0], want)
  again = device_crops.crop_set(sources, 32, seed=1, shift=0.0, log2_scale=0.0)
  np.testing.assert_array_equal(again.images, crops.images)
  other = device_crops.crop_set(sources, 32, seed=2, shift=0.0, log2_scale=0.0)
  assert not np.array_equal(other.images, crops.images)


def test_no_sources_is_a_clear_error():
  with pytest.raises(ValueError, match="need face sources"):
    device_crops.crop_set([], 32, 0, 0.1, 0.1)
