"""Full-size checks of the acceptance bars, marked slow: CI skips them (`make test-all` runs them).

The Table 1 AlexNet takes ~30-40 min on 2 cores; the default main job ~10 min.
"""

import json

import pytest

from configs import alexnet, main as main_config
from smile_jax import job
from smile_jax.eval import evaluate
from smile_jax.train import loop


@pytest.mark.slow
def test_alexnet_baseline_reaches_097_test_auc(tmp_path):
  config = alexnet.get_config()
  result = loop.train_and_evaluate(config, str(tmp_path))
  summary = evaluate.evaluate_run(result, config, str(tmp_path))
  test = next(r for r in summary["splits"] if r["split"] == "test")
  assert test["auc"] >= 0.97


@pytest.mark.slow
def test_default_main_job(tmp_path):
  summary = job.run_main_job(main_config.get_config(), str(tmp_path))
  aucs = {m["name"]: m["auc"] for m in summary["models"] if m["split"] == "test"}
  assert aucs["embedded"] >= 0.92 and aucs["reduced_alexnet"] >= 0.93
  assert aucs["embedded"] > aucs["white_pixels"]
  with open(tmp_path / "summary.json") as f:
    assert json.load(f)["chosen_run_dir"].endswith("runs/embedded")
