"""Augmentations (albumentations 2.x, seeded, from config) and the batch pipeline."""

import warnings

import albumentations as A
import numpy as np
import pytest

from configs import default, search as search_config
from smile_jax.data import augment, pipeline
from smile_jax.search import full_training
from tests.conftest import face_like


@pytest.fixture
def images():
  return np.stack([face_like(i, smiling=i % 2 == 0) for i in range(16)])[..., None]


def test_config_builds_without_warnings_and_is_seeded(images):
  cfg = default.get_config().augment
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # albumentations 2.x only *warns* about 1.x argument names
    first = augment.apply(augment.build(cfg, seed=3), images)
    again = augment.apply(augment.build(cfg, seed=3), images)
    other_seed = augment.apply(augment.build(cfg, seed=4), images)
  assert first.shape == images.shape and first.dtype == np.uint8
  np.testing.assert_array_equal(first, again)
  assert not np.array_equal(first, other_seed) and not np.array_equal(first, images)


def test_the_reports_probabilities():
  cfg = default.get_config().augment
  pipe = augment.build(cfg)
  probs = {type(t).__name__ + str(i): t.p for i, t in enumerate(pipe.transforms)}
  assert sorted(probs.values()) == [0.1] + [0.2] * 6 + [0.85]
  motion = [t for t in pipe.transforms if isinstance(t, A.MotionBlur)]
  assert [t.blur_limit[1] for t in motion] == [5, 39]


def test_shifts_and_flips_match_albumentations_image_by_image(images):
  rng = np.random.default_rng(0)
  dy, dx = rng.integers(-5, 6, len(images)), rng.integers(-5, 6, len(images))
  flip = rng.random(len(images)) < 0.5
  fast = augment.shift_and_flip(images, dy, dx, flip)
  for i, image in enumerate(images):
    slow = A.Compose([
        A.Affine(translate_px={"x": (int(dx[i]),) * 2, "y": (int(dy[i]),) * 2}, border_mode=1,
                 p=1.0),
        A.HorizontalFlip(p=float(flip[i]))])(image=image[..., 0])["image"]
    np.testing.assert_array_equal(fast[i, ..., 0], slow, err_msg=f"image {i}")


def test_shift_flip_draws_as_albumentations_does(images):
  cfg = full_training.full_recipe(search_config.get_config("compact")).augment   # the search's
  pipe = augment.build(cfg, seed=5)
  assert isinstance(pipe, augment.ShiftFlip)
  # Read each image's horizontal shift back from a ramp (pixel = 3 x column), unflipped.
  ramp = np.broadcast_to((np.arange(64) * 3).astype(np.uint8)[None, None, :, None],
                         (4000, 64, 64, 1))
  def shifts(out):
    return 32 - out[:, 32, 32, 0].astype(int) // 3
  ours = shifts(augment.ShiftFlip(cfg.translate, cfg.affine_p, flip_p=0.0, seed=1).batch(ramp))
  theirs = shifts(augment.apply(A.Compose([
      A.Affine(translate_percent=(-cfg.translate, cfg.translate), border_mode=1, p=1.0)],
      seed=1), ramp))
  # +-4/64 of 64 px truncated toward zero: -3..3, 0 twice as likely, in both.
  expected = np.array([1, 1, 1, 2, 1, 1, 1]) / 8
  for got in (ours, theirs):
    np.testing.assert_allclose(np.bincount(got + 3, minlength=7) / len(got), expected, atol=0.02)
  first = augment.apply(augment.build(cfg, seed=5), images)
  again = augment.apply(augment.build(cfg, seed=5), images)
  other = augment.apply(augment.build(cfg, seed=6), images)
  np.testing.assert_array_equal(first, again)
  assert not np.array_equal(first, other) and not np.array_equal(first, images)
  flipped = augment.apply(augment.ShiftFlip(translate=0.0, affine_p=0.0, flip_p=1.0), images)
  np.testing.assert_array_equal(flipped, images[:, :, ::-1])
  assert not isinstance(augment.build(default.get_config().augment), augment.ShiftFlip)


def test_batched_zoom_brightness_and_contrast(images):
  rng = np.random.default_rng(0)
  dy, dx = rng.integers(-3, 4, len(images)), rng.integers(-3, 4, len(images))
  flip = rng.random(len(images)) < 0.5
  np.testing.assert_array_equal(augment.shift_and_flip(images, dy, dx, flip, np.ones(16)),
                                augment.shift_and_flip(images, dy, dx, flip))
  # A ramp (pixel = 2 x column) zoomed by 2 about its centre climbs half as fast, centre fixed.
  ramp = np.broadcast_to((np.arange(64) * 2).astype(np.uint8)[None, None, :, None],
                         (1, 64, 64, 1))
  zoomed = augment.shift_and_flip(ramp, np.zeros(1, int), np.zeros(1, int), np.zeros(1, bool),
                                  np.array([2.0]))[0, 32, :, 0].astype(int)
  assert abs(zoomed[32] - 64) <= 2 and zoomed[48] - zoomed[16] == 32
  # The search's recipe builds them batched; with zoom and brightness off, shifts draw as before.
  cfg = full_training.full_recipe(search_config.get_config("compact")).augment
  pipe = augment.build(cfg, seed=2)
  assert (pipe.scale, pipe.brightness_contrast_p, pipe.brightness, pipe.contrast) == (
      0.1, 0.5, 0.2, 0.2)
  plain = augment.ShiftFlip(cfg.translate, cfg.affine_p, cfg.flip_p, 2, brightness=0.2)
  np.testing.assert_array_equal(plain.batch(images), augment.ShiftFlip(
      cfg.translate, cfg.affine_p, cfg.flip_p, 2).batch(images))
  assert not np.array_equal(pipe.batch(images), plain.batch(images))
  # Brightness alone: every pixel moves by one draw per image, within +-0.2 x 255, clipped.
  grey = np.full((2000, 4, 4, 1), 128, np.uint8)
  lit = augment.ShiftFlip(0.0, 0.0, 0.0, brightness=0.2, brightness_contrast_p=1.0).batch(grey)
  per_image = lit.reshape(2000, -1).astype(int) - 128
  assert (per_image == per_image[:, :1]).all() and np.abs(per_image).max() <= 51
  assert per_image.std() > 25      # spread over the range: U(-51, 51) has sd 29
  # Contrast alone scales pixel values: 250 -> 250 x U(0.8, 1.2), clipped to 255 (above 1.02).
  bright = np.full((2000, 2, 2, 1), 250, np.uint8)
  scaled = augment.ShiftFlip(0.0, 0.0, 0.0, contrast=0.2,
                             brightness_contrast_p=1.0).batch(bright)
  assert scaled.min() >= 200 and scaled.max() == 255 and 0.38 < (scaled == 255).mean() < 0.52
  with_p = augment.ShiftFlip(0.0, 0.0, 0.0, brightness=0.2, brightness_contrast_p=0.5).batch(grey)
  assert 0.4 < (with_p[:, 0, 0, 0] != 128).mean() < 0.6


def test_example_grid_is_written(images, tmp_path):
  path = augment.example_grid(
      augment.build(default.get_config().augment), images[:3], str(tmp_path / "aug.png"))
  assert (tmp_path / "aug.png").stat().st_size > 1000 and path.endswith("aug.png")


def test_balancing_repeats_two_of_three_positives():
  labels = np.array([1] * 30 + [0] * 70)
  idx = pipeline.balanced_indices(labels, seed=0)
  assert len(idx) == 120 and labels[idx].sum() == 50
  assert np.bincount(idx, minlength=100)[:30].max() == 2 and np.bincount(idx)[30:].max() == 1


def test_train_batches_are_a_function_of_seed_and_epoch(images):
  labels = np.arange(16) % 2
  cfg = default.get_config().augment
  run = lambda epoch: [b["image"] for b in pipeline.train_batches(
      images, labels, batch_size=4, seed=1, epoch=epoch, balance=True, augment_cfg=cfg)]
  first, again, other = run(0), run(0), run(1)
  assert len(first) == (16 + 5) // 4  # 8 positives -> 5 repeated, partial batch dropped
  for batch_a, batch_b in zip(first, again):
    np.testing.assert_array_equal(batch_a, batch_b)
  assert not all(np.array_equal(batch_a, batch_b) for batch_a, batch_b in zip(first, other))


def test_eval_batches_pad_the_last_batch(images):
  sizes = [(b.shape[0], n) for b, n in pipeline.eval_batches(images[:10], 4)]
  assert sizes == [(4, 4), (4, 4), (4, 2)]


def test_fit_channels_for_other_input_shapes(images):
  out = pipeline.fit_channels(images, (32, 32, 3))
  assert out.shape == (16, 32, 32, 3) and (out[..., 0] == out[..., 2]).all()
