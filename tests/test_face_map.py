"""The face map (data/face_map.py): targets from boxes and boxes back, in floats and in the
device's integers; the locator's loss and its train loop (train/locator.py), resumed."""

import math

import numpy as np
import pytest

from smile_jax.data import camera_frames, face_map, frame_sets
from smile_jax.models import zoo
from smile_jax.train import locator as locator_lib, steps


def _logits(targets: face_map.Targets) -> np.ndarray:
  """A map a perfect locator would write: heat logits high at the centres, the boxes' values."""
  heat = np.where(targets.heat >= 1.0, 6.0, -6.0)
  return np.concatenate([heat[..., None], targets.box], axis=-1).astype(np.float32)


@pytest.mark.parametrize("boxes", [[(203, 93, 73, 73)], [(10, 20, 40, 40), (200, 100, 120, 120)],
                                   [(0, 0, 244, 244)]])
def test_decoding_the_targets_gives_the_boxes_back(boxes):
  found = face_map.decode(_logits(face_map.encode(boxes)), 0.0)
  assert len(found) == len(boxes)
  for box in boxes:
    best = max(found, key=lambda f: face_map.iou(f, box))
    assert face_map.iou(best, box) > 0.95


def test_targets_mark_the_centre_cell_and_its_neighbours():
  targets = face_map.encode([(100, 40, 64, 64)])        # centre (132, 72): cell row 2, col 4
  assert targets.heat[2, 4] == 1.0 and (targets.heat < 1.0).sum() == targets.heat.size - 1
  assert targets.box_weight.sum() == 9 and targets.box_weight[1:4, 3:6].all()
  np.testing.assert_allclose(targets.box[2, 4], [(132 - 144) / 32, (72 - 80) / 32, 0.0])
  empty = face_map.encode([])
  assert empty.heat.max() == 0 and empty.box_weight.sum() == 0


def test_peaks_are_local_maxima_over_the_threshold_best_first_and_at_most_four():
  heat = np.zeros((4, 6))
  heat[0, 0], heat[0, 1] = 5, 5        # a tie: the earlier cell in raster order wins
  heat[2, 2] = 3
  heat[2, 3] = 2                       # next to a higher cell: not a peak
  heat[3, 5] = 0.5                     # under the threshold
  assert face_map.peaks(heat, 1.0) == [(0, 0), (2, 2)]
  many = np.zeros((8, 11))
  many[::2, ::2] = np.arange(24).reshape(4, 6)
  assert face_map.peaks(many, 1.0) == [(6, 10), (6, 8), (6, 6), (6, 4)]


def test_the_integer_decode_reads_the_same_boxes_as_the_float_one():
  rng = np.random.default_rng(0)
  scales = np.array([0.05, 0.004, 0.004, 0.006])
  for trial in range(20):
    boxes = [(int(rng.integers(0, 250)), int(rng.integers(0, 170)), s, s)
             for s in rng.integers(30, 200, size=int(rng.integers(1, 3)))]
    real = _logits(face_map.encode(boxes)) + rng.normal(0, 0.05, (*face_map.GRID, 4))
    acc = np.round(real / scales).astype(np.int32)
    ints = face_map.decode_int(acc, face_map.IntDecode.from_scales(scales, 0.0))
    floats = face_map.decode(acc * scales, 0.0)
    assert len(ints) == len(floats), trial
    for a, b in zip(ints, floats):   # offsets round the same; sides to the table's 1.1% steps
      assert max(abs(u - v) for u, v in zip(a, b)) <= 3, (trial, a, b)


def test_the_integer_decode_on_a_fixed_map():
  out = np.zeros((*face_map.GRID, 4), np.int32)
  out[..., 0] = -100
  out[3, 5] = (40, 125, -250, 0)       # heat 2.0; dx 0.5 cell, dy -1 cell; size 2^0 (64 px)
  decode = face_map.IntDecode.from_scales([0.05, 0.004, 0.004, 0.01], 1.0)
  assert decode.heat_threshold == 20
  # Anchor (176, 112) + (16, -32) = centre (192, 80); size 0 is table step round(95.6) = 96.
  assert decode.sides[96] == round(64 * 2 ** (-1.5 + 96 * 4 / 255)) == 64
  assert face_map.decode_int(out, decode) == [(160, 48, 64, 64)]
  out[3, 5, 0] = 19                    # below the threshold: no face
  assert face_map.decode_int(out, decode) == []


def test_the_map_loss_prefers_the_true_map():
  boxes = [[(100, 40, 64, 64)], [], [(10, 20, 150, 150), (220, 120, 50, 50)]]
  batch = locator_lib.targets(boxes)
  true_map = np.stack([_logits(face_map.encode(b)) for b in boxes])
  zeros = np.zeros_like(true_map)
  assert float(steps.face_map_loss(true_map, batch, ())) < 0.05
  assert float(steps.face_map_loss(zeros, batch, ())) > 1.0


def _sources():
  rng = np.random.default_rng(3)
  out = []
  for i in range(6):
    image = (rng.random((120, 100)) * 60 + 40).astype(np.uint8)
    image[30:90, 20:80] = 230 - 40 * (i % 2)           # a bright square "face"
    out.append(camera_frames.Source(f"synthetic:{i}", image, i % 2, (20, 30, 60, 60)))
  return out


def test_the_locator_trains_and_resumes_to_the_same_weights(tmp_path, monkeypatch):
  from configs import locator as locator_config
  config = locator_config.get_config()
  config.locator.update(epochs=2, batch_size=16, warmup_epochs=1, eval_batch_size=32)
  train_set = frame_sets.locator_set(_sources(), 48, seed=0)
  val_set = frame_sets.locator_set(_sources(), 16, seed=1)
  assert train_set.inputs.shape == (48, face_map.INPUT_H, face_map.INPUT_W)
  whole = locator_lib.train_locator(config, str(tmp_path / "whole"), train_set, val_set, False)
  assert len(whole.history) == 2 and whole.spec == zoo.face_locator()
  assert all(math.isfinite(row["val_loss"]) for row in whole.history)
  class Killed(Exception):
    pass

  def save_then_die(*args):                 # the process dies right after epoch 1's checkpoint
    save(*args)
    raise Killed
  save = locator_lib.loop.save
  monkeypatch.setattr(locator_lib.loop, "save", save_then_die)
  with pytest.raises(Killed):
    locator_lib.train_locator(config, str(tmp_path / "killed"), train_set, val_set, False)
  monkeypatch.setattr(locator_lib.loop, "save", save)
  resumed = locator_lib.train_locator(config, str(tmp_path / "killed"), train_set, val_set, False)
  assert [r["epoch"] for r in resumed.history] == [1, 2]
  assert [r["val_loss"] for r in resumed.history] == pytest.approx(
      [r["val_loss"] for r in whole.history], rel=1e-5)


def test_mirrored_frames_carry_mirrored_targets():
  boxes = ((( 10, 20, 60, 60),), ((200, 50, 100, 100), (30, 30, 40, 40)), ())
  assert locator_lib.mirrored(boxes)[0] == ((254, 20, 60, 60),)
  inputs = np.random.default_rng(0).integers(0, 256, (3, face_map.INPUT_H, face_map.INPUT_W),
                                               dtype=np.uint8)
  target, flipped = locator_lib.targets(boxes), locator_lib.targets(locator_lib.mirrored(boxes))
  seen = set()
  for epoch in range(6):
    for batch in locator_lib.batches(inputs, target, 3, seed=0, epoch=epoch, flipped=flipped):
      for image, heat in zip(batch["image"][..., 0], batch["heat"]):
        k = next(i for i in range(3) if (inputs[i] == image).all() or
                 (inputs[i][:, ::-1] == image).all())
        mirror = not (inputs[k] == image).all()
        np.testing.assert_array_equal(heat, (flipped if mirror else target)["heat"][k])
        seen.add(mirror)
  assert seen == {True, False}
  plain = next(locator_lib.batches(inputs, target, 3, seed=0, epoch=0))     # no flip: as given
  assert all((plain["image"][i, ..., 0] == inputs).all(axis=(1, 2)).any() for i in range(3))
