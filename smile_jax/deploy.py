"""A trained run, deployed: its net compiled (int8 and float), built for both boards, checked
against its reference, measured, and scored on the run's test split.

    deploy_run(run_dir, out_dir, cfg) -> deploy.json content

The compiler stack (`compile/`) goes from spec + weights to firmware; this stage brings what
belongs to a run: its kept weights, its training images for the int8 activation ranges, its test
split for parity and AUC, its validation threshold for the board's LEDs.
"""

from __future__ import annotations

import os

import numpy as np

from compile import build, firmware, graph as graph_lib, quantize
from smile_jax import infer, jsonfile
from smile_jax.eval import calibration, metrics, predict


def deploy_run(run_dir: str, out_dir: str, cfg) -> dict:
  """Compiles, builds, checks and measures a trained run; writes out_dir/deploy.json and returns it.

  Raises `compile.parity.ParityError` (naming the first divergent layer) when a build's firmware
  does not reproduce its reference on the parity images.
  """
  firmware.check_toolchain(qemu=True)
  run_dir, predictor, _, data = predict.load_run(run_dir)
  val_threshold = predict.val_threshold(run_dir)
  spec = predictor.spec
  graph_lib.check_supported(spec)
  build.check_fits(spec)
  graph = graph_lib.from_spec(spec, predictor.variables)
  rng = np.random.default_rng(cfg.seed)
  range_images = data.train.images[rng.permutation(len(data.train.images))[:cfg.range_images]]
  test_images, test_labels = data.test.images, data.test.labels
  parity_images = test_images[:cfg.parity_images]
  jax_logits = infer.predict_logits(predictor.apply_fn, predictor.variables, test_images)
  threshold_logit = float(calibration.logit(val_threshold)) if 0 < val_threshold < 1 else 0.0
  domains = data.test.domain

  def aucs(logits) -> dict:
    """Test AUC (the mean over datasets when the run trained on several) and per dataset."""
    margins = logits[:, 1] - logits[:, 0]
    return {"test_auc": metrics.mean_group_auc(test_labels, margins, domains),
            "test_auc_by_dataset": metrics.auc_by_group(test_labels, margins, domains)}
  float_auc = aucs(jax_logits)["test_auc"]
  entries = []
  for dtype in cfg.dtypes:
    if dtype == "int8":
      model = quantize.quantize(graph, range_images, cfg.percentile)
      reference = quantize.run_int(model, parity_images)
      deployed = quantize.dequantize_logits(model, quantize.run_int(model, test_images))
    else:
      model, reference = graph, jax_logits[:cfg.parity_images]
      deployed = graph_lib.run_float(graph, test_images)
    row = build.build_model(model, os.path.join(out_dir, dtype), parity_images, reference,
                               cfg.kernels, threshold_logit, f"{spec.name} from {run_dir}",
                               cfg.get("dsp_kernels", False))
    entries.append(row | aucs(deployed) | {"float_test_auc": float_auc})
  result = {
      "run_dir": run_dir,
      "model": spec.name,
      "val_threshold": val_threshold,
      "builds": entries
  }
  jsonfile.dump(result, os.path.join(out_dir, "deploy.json"), indent=1)
  return result
