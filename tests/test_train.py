"""Training: a short run learns, pmap equals jit, and a SIGKILLed run resumes to the same result."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from configs import default
from smile_jax.models import infer
from smile_jax.models import spec as spec_lib
from smile_jax.train import loop, steps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = spec_lib.ModelSpec("tiny", (
    spec_lib.Conv(8, 3, stride=2), spec_lib.BatchNorm(), spec_lib.Conv(16, 3, stride=2),
    spec_lib.MaxPool(2, 2), spec_lib.Flatten(), spec_lib.Dense(2, activation="none")))


def tiny_config(tmp_path, tfds_dir, epochs=3):
  spec_path = tmp_path / "tiny.json"
  spec_path.write_text(TINY.to_json())
  config = default.get_config()
  config.spec_json = str(spec_path)
  config.data.tfds_dir = tfds_dir
  config.data.max_per_class = 400
  config.train.epochs = epochs
  config.train.batch_size = 32
  config.train.warmup_epochs = 1
  return config


def test_short_run_learns_and_keeps_best_epoch(tmp_path, tfds_dir, shared_data_dir):
  result = loop.train_and_evaluate(tiny_config(tmp_path, tfds_dir, epochs=4), str(tmp_path / "run"))
  history = result.history
  assert len(history) == 4 and history[-1]["train_loss"] < history[0]["train_loss"]
  assert max(r["val_auc"] for r in history) > 0.8
  assert result.best_epoch == 1 + int(np.argmax([r["val_auc"] for r in history]))
  restored = infer.restore_variables(str(tmp_path / "run"), result.spec)
  chex_equal = jax.tree_util.tree_map(np.array_equal, restored, jax.device_get(result.variables))
  assert all(jax.tree_util.tree_leaves(chex_equal))


def test_pmap_matches_jit():
  assert jax.local_device_count() == 2, "conftest asks XLA for two host devices"
  cfg = default.get_config().train
  rng = np.random.default_rng(0)
  batches = [{"image": rng.integers(0, 255, (8, 64, 64, 1), dtype=np.uint8),
              "label": rng.integers(0, 2, 8).astype(np.int32)} for _ in range(3)]
  single = steps.create_state(TINY, cfg, steps_per_epoch=3, seed=0)
  multi = steps.replicate(steps.create_state(TINY, cfg, 3, 0, bn_axis_name="batch"), 2)
  for batch in batches:
    single, out1 = steps.jit_train_step(single, batch)
    multi, out2 = steps.pmap_train_step(multi, jax.tree_util.tree_map(
        lambda x: x.reshape(2, 4, *x.shape[1:]), batch))
    np.testing.assert_allclose(out1["loss"], out2["loss"][0], rtol=1e-5)
  first = steps.unreplicate(multi)
  for a, b in zip(jax.tree_util.tree_leaves((single.params, single.batch_stats)),
                  jax.tree_util.tree_leaves((first.params, first.batch_stats))):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_sigkill_then_resume_matches_uninterrupted(tmp_path, tfds_dir, shared_data_dir):
  config = tiny_config(tmp_path, tfds_dir, epochs=5)
  reference = loop.train_and_evaluate(config, str(tmp_path / "uninterrupted"))
  workdir = tmp_path / "killed"
  cmd = [
      sys.executable, "-m", "experiments.train", "--config=configs/default.py",
      f"--workdir={workdir}", f"--config.spec_json={config.spec_json}",
      f"--config.data.tfds_dir={tfds_dir}", "--config.data.max_per_class=400",
      "--config.train.epochs=5", "--config.train.batch_size=32", "--config.train.warmup_epochs=1"
  ]
  proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 240
  while not os.path.isdir(workdir / "checkpoints" / "1") and time.time() < deadline:
    assert proc.poll() is None, "the training process died before its first checkpoint"
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  history = json.loads(
      (workdir / "history.json").read_text()) if (workdir / "history.json").exists() else []
  assert len(history) < 5, "the kill came after the run had finished; nothing was tested"
  subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  resumed = json.loads((workdir / "history.json").read_text())
  assert [r["epoch"] for r in resumed] == [1, 2, 3, 4, 5]
  for resumed_row, reference_row in zip(resumed, reference.history):
    assert resumed_row["val_auc"] == pytest.approx(reference_row["val_auc"], abs=1e-6)
    assert resumed_row["train_loss"] == pytest.approx(reference_row["train_loss"], rel=1e-5)
  metrics = json.loads((workdir / "metrics.json").read_text())
  assert metrics["best_epoch"] == reference.best_epoch


def test_pmap_path_of_the_loop(tmp_path, tfds_dir, shared_data_dir):
  config = tiny_config(tmp_path, tfds_dir, epochs=1)
  config.train.parallel = "pmap"
  result = loop.train_and_evaluate(config, str(tmp_path / "pmap"))
  assert len(result.history) == 1 and 0.0 <= result.history[0]["val_auc"] <= 1.0
  config.train.batch_size = 33
  with pytest.raises(ValueError, match="does not split over 2 devices"):
    loop.train_and_evaluate(config, str(tmp_path / "odd"))


def test_vmapped_step_equals_sequential_steps():
  cfg = default.get_config().train
  rng = np.random.default_rng(1)
  states = [steps.create_state(TINY, cfg, 3, seed) for seed in (0, 1, 2)]
  batch = {"image": rng.integers(0, 255, (3, 8, 64, 64, 1), dtype=np.uint8),
           "label": rng.integers(0, 2, (3, 8)).astype(np.int32)}
  stacked, out = steps.vmap_train_step(steps.stack(states), batch)
  for i, state in enumerate(states):
    single, single_out = steps.jit_train_step(state, jax.tree_util.tree_map(lambda x: x[i], batch))
    np.testing.assert_allclose(out["loss"][i], single_out["loss"], rtol=1e-5)
    for a, b in zip(
        jax.tree_util.tree_leaves(single.params),
        jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda x: x[i], stacked.params))):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_seeds_in_one_loop_train_like_sequential_runs(tmp_path, tfds_dir, shared_data_dir):
  from smile_jax.data import run_data
  from smile_jax.train import seeds as seeds_lib
  config = tiny_config(tmp_path, tfds_dir, epochs=2)
  config.data.max_per_class = 150
  data = run_data.load(config.data, str(tmp_path), TINY.input_shape)
  together = seeds_lib.train_seeds(config, TINY, (0, 1), data)
  for seed, got in zip((0, 1), together):
    config.train.seed = seed
    alone = loop.train_and_evaluate(
        config, str(tmp_path / f"s{seed}"), spec=TINY, data=data, verbose=False)
    best = alone.history[alone.best_epoch - 1]
    assert got["val_auc"] == pytest.approx(best["val_auc"], abs=0.01)
    assert got["val_loss"] == pytest.approx(best["val_loss"], rel=0.02)
