"""A trained run, deployed: its net compiled (int8 and float), built for both boards, checked
against its reference, measured, and scored on the run's test split.

    deploy_run(run_dir, out_dir, cfg) -> deploy.json content

The compiler stack (`compile/`) goes from spec + weights to firmware; this stage brings what
belongs to a run: its kept weights, its training images for the int8 activation ranges, its test
split for parity and AUC, its validation threshold for the board's LEDs.
"""

from __future__ import annotations

import os

from compile import build, cmsis_nn, firmware, graph as graph_lib, quantize
from smile_jax.io import jsonfile
from smile_jax.models import infer
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
  range_images = quantize.range_sample(data.train.images, cfg.range_images, cfg.seed)
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
    extra = {}
    if dtype == "int8":
      model = quantize.quantize(graph, range_images, cfg.percentile)
      # The firmware runs the whole test split: parity on every image, its AUC from its outputs.
      images = test_images if cfg.firmware_test_auc else parity_images
      test_int = quantize.run_int(model, test_images)
      reference = test_int[:len(images)]
      deployed = quantize.dequantize_logits(model, test_int)
      extra["cmsis_nn_cycles_per_mac"] = cmsis_nn.cycles_per_mac(
          model, range_images, os.path.join(out_dir, "cmsis_nn"),
          cmsis_nn.third_party_dir(cfg.cmsis_nn_dir))
    else:
      images, model, reference = parity_images, graph, jax_logits[:cfg.parity_images]
      deployed = graph_lib.run_float(graph, test_images)
    row, firmware_logits = build.build_model(
        model, os.path.join(out_dir, dtype), images, reference, cfg.kernels, threshold_logit,
        f"{spec.name} from {run_dir}", cfg.dsp_kernels, cfg.weights_in_sram,
        cfg.max_model_ram_bytes)
    if dtype == "int8" and len(images) == len(test_images):
      measured = aucs(quantize.dequantize_logits(model, firmware_logits))
      extra |= {"firmware_test_auc": measured["test_auc"],
                "firmware_test_auc_by_dataset": measured["test_auc_by_dataset"]}
    entries.append(row | aucs(deployed) | {"float_test_auc": float_auc} | extra)
  result = {
      "run_dir": run_dir,
      "model": spec.name,
      "val_threshold": val_threshold,
      "builds": entries
  }
  # The run's paths relative to deploy.json, so a moved main job (which holds both) still works.
  jsonfile.dump(result, os.path.join(out_dir, "deploy.json"),
                root=os.path.commonpath([os.path.abspath(out_dir), os.path.abspath(run_dir)]),
                indent=1)
  return result
