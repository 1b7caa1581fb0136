"""Knowledge distillation: the soft-target loss, the train step with a teacher, and the stored
teacher logits (written once, read back by key, refused when made for other images)."""

import dataclasses
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from smile_jax.data import builders
from smile_jax.models import spec as spec_lib
from smile_jax.train import distill, steps

TINY = spec_lib.ModelSpec("tiny", (spec_lib.Conv(4, 3, stride=4), spec_lib.Flatten(),
                                   spec_lib.Dense(2, activation="none")), (16, 16, 1))


def test_distillation_loss_against_hand_computed_values():
  student, teacher = jnp.array([[0.0, 0.0]]), jnp.array([[0.0, jnp.log(3.0)]])
  # T = 1: KL([1/4, 3/4] || [1/2, 1/2]) = 1/4 ln(1/2) + 3/4 ln(3/2)
  expected = 0.25 * np.log(0.5) + 0.75 * np.log(1.5)
  assert float(steps.distillation_loss(student, teacher, 1.0)) == pytest.approx(expected, 1e-6)
  # T = 2 softens the teacher to [1, sqrt 3] / (1 + sqrt 3); the T^2 factor scales the KL.
  p = np.array([1.0, np.sqrt(3.0)]) / (1 + np.sqrt(3.0))
  expected_t2 = 4.0 * float(np.sum(p * np.log(p / 0.5)))
  assert float(steps.distillation_loss(student, teacher, 2.0)) == pytest.approx(expected_t2, 1e-6)
  assert float(steps.distillation_loss(teacher, teacher, 3.0)) == pytest.approx(0.0, abs=1e-6)


def _state(weight: float):
  cfg = default.get_config().train
  cfg.distill_weight, cfg.distill_temperature, cfg.peak_lr, cfg.warmup_epochs = weight, 2.0, 0.5, 0
  return steps.create_state(TINY, cfg, 10, seed=0)


def test_a_teacher_pulls_the_student_and_weight_zero_ignores_it():
  rng = np.random.default_rng(0)
  batch = {"image": rng.integers(0, 255, (32, 16, 16, 1), dtype=np.uint8),
           "label": np.zeros(32, np.int32),                                 # labels say 0 ...
           "teacher": np.tile(np.array([[-4.0, 4.0]], np.float32), (32, 1))}  # ... teacher says 1
  apply = lambda state: jax.nn.softmax(state.apply_fn(
      {"params": state.params}, batch["image"] / 255.0, train=False))[:, 1].mean()
  pupil, plain = _state(1.0), _state(0.0)
  assert pupil.distill == (1.0, 2.0) and plain.distill == (0.0, 2.0)
  for _ in range(20):
    pupil, _ = steps.jit_train_step(pupil, batch)
    plain, _ = steps.jit_train_step(plain, batch)
  assert float(apply(pupil)) > 0.9 and float(apply(plain)) < 0.1
  without = {k: v for k, v in batch.items() if k != "teacher"}
  again, out = steps.jit_train_step(_state(1.0), without)     # no teacher logits: plain CE
  reference, ref_out = steps.jit_train_step(_state(0.0), without)
  assert float(out["loss"]) == pytest.approx(float(ref_out["loss"]), 1e-6)


def _dataset(keys, size=16):
  count = len(keys)
  rng = np.random.default_rng(1)
  return builders.FaceDataset(
      "toy", rng.integers(0, 255, (count, size, size, 1), dtype=np.uint8),
      np.arange(count) % 2, np.asarray(keys), np.ones(count, bool), np.zeros((count, 4), np.int32),
      np.zeros((count, 4), np.int32), {"dataset": "toy"}, np.full(count, "toy"))


def test_teacher_logits_are_stored_once_and_read_back_by_key(tmp_path):
  from smile_jax.models import infer
  from smile_jax.data import run_data
  from smile_jax.models import net
  from smile_jax.train import loop
  cfg = default.get_config()
  cfg.data.image_size, cfg.train.epochs, cfg.train.batch_size = 16, 1, 8
  cfg.augment.enabled = False
  train = _dataset([f"k{i}" for i in range(24)])
  data = run_data.RunData(train, train, train, train, "")
  teacher_dir = str(tmp_path / "teacher")
  loop.train_and_evaluate(cfg, teacher_dir, spec=TINY, data=data, verbose=False)
  with pytest.raises(distill.TeacherError, match="no teacher_logits.npz"):
    distill.check_teacher(teacher_dir)
  distill.write_teacher_logits(teacher_dir, train)
  variables = infer.restore_variables(teacher_dir, TINY)
  apply_fn = net.build(TINY).apply
  direct = infer.predict_logits(apply_fn, variables, train.images)
  mirrored = infer.predict_logits(apply_fn, variables, train.images[:, :, ::-1])
  shuffled = train.subset(np.arange(24)[::-1])
  stored = distill.teacher_logits(teacher_dir, shuffled)
  np.testing.assert_allclose(stored, ((direct + mirrored) / 2)[::-1], rtol=1e-5, atol=1e-5)
  other = dataclasses.replace(train, keys=np.asarray([f"x{i}" for i in range(24)]))
  with pytest.raises(distill.TeacherError, match="24 training images have no teacher logits"):
    distill.teacher_logits(teacher_dir, other)
  with pytest.raises(distill.TeacherError, match="no spec.json"):
    distill.check_teacher(str(tmp_path / "nowhere"))
  # The run store knows a teacher by its logits, not its path: a copy is the same teacher, a
  # teacher whose logits differ in one value is another.
  digest = distill.logits_digest(teacher_dir)
  copied = tmp_path / "copied"
  shutil.copytree(teacher_dir, copied)
  assert distill.logits_digest(str(copied)) == digest and len(digest) == 16
  saved = np.load(copied / distill.LOGITS_FILE)
  logits = saved["logits"].copy()
  logits[3, 1] += 1e-3
  np.savez(copied / distill.LOGITS_FILE, keys=saved["keys"], logits=logits)
  assert distill.logits_digest(str(copied)) != digest
