"""Insight into a trained run: saliency (report 5.1), errors (5.2), thresholds, other datasets.

`analyze_run(workdir, cfg)` writes <run>/analysis/ (figures, analysis.json, analysis.md,
suspected_label_errors.csv) and the run's report.md gains the analysis sections. What it computes:
  * Figure 6 (saliency maps, three methods) and the share of saliency mass in SMILEsmileD's mouth
    box vs the cheeks beside it vs elsewhere, over correctly classified smiling test faces;
  * Figures 7 and 8 (worst false positives / negatives on test) and suspected label errors;
  * operating points chosen on val with their test metrics, and temperature calibration;
  * zero-shot numbers on another dataset and (optionally) a fine-tuning on it (`finetune`: a
    seeded 70/15/15 split of the other dataset, a few epochs from the run's weights at a lower
    learning rate, the best val epoch kept; before/after on its test split).
"""

from __future__ import annotations

import dataclasses
import os


from smile_jax.io import jsonfile
from smile_jax.train import run as run_lib
from smile_jax.data import builders, pipeline, run_data
from smile_jax.eval import calibration, cross_dataset, errors, evaluate, metrics, predict, report
from smile_jax.eval import saliency


def _pct(share) -> str:
  return "-" if share is None else f"{100 * share:.1f}%"


def _saliency_section(cfg, predictor, test, probs, out_dir) -> tuple[dict, str]:
  idx = saliency.correct_smiles(test.labels, probs, 0.5)
  idx = idx[test.mouth_box[idx, 0] >= 0]
  if cfg.max_saliency_images:
    idx = idx[:cfg.max_saliency_images]
  shares = {}
  maps_for_figure = {}
  for method in cfg.saliency_methods:
    maps = saliency.saliency(predictor.apply_fn, predictor.variables, test.images[idx], method)
    shares[method] = saliency.region_shares(maps, test.mouth_box[idx], cfg.bootstrap)
    maps_for_figure[method] = maps[:cfg.figure_images]
  pick = idx[:cfg.figure_images]
  saliency.figure(test.images[pick], maps_for_figure, [f"p={probs[i]:.2f}" for i in pick],
                  os.path.join(out_dir, "figure6_saliency.png"), test.mouth_box[pick])
  lines = [f"Correctly classified smiling test faces with a mouth box: {len(idx)}. Share of the "
           "saliency mass per region (mean over faces, 95% bootstrap CI); `area` is the region's "
           "share of the image, what a uniform map would give.", "",
           "| method | mouth | cheeks (beside the mouth) | elsewhere |", "|---|--:|--:|--:|"]
  for method, share in shares.items():
    cells = [
        f"{_pct(share[r]['share'])} [{_pct(share[r]['ci95'][0])}, {_pct(share[r]['ci95'][1])}] "
        f"(area {_pct(share[r]['area'])})" for r in ("mouth", "cheeks", "elsewhere")
    ]
    lines.append(f"| {method} | " + " | ".join(cells) + " |")
  vanilla = shares.get("vanilla", next(iter(shares.values())))
  verdict = ("more on the cheeks than on the mouth, as the report claims"
             if vanilla["cheeks"]["share"] > vanilla["mouth"]["share"] else
             "more on the mouth than on the cheeks, unlike the report's claim")
  lines += ["", f"This net looks {verdict} (vanilla gradients).", "",
            "![saliency](analysis/figure6_saliency.png)"]
  return shares, "\n".join(lines)


def _errors_section(cfg, predictor, data, probs, out_dir) -> tuple[dict, str]:
  test = data.test
  for kind, fig, title in (("fp", "figure7_false_positives.png",
                            "Highest-scoring false positives (report Figure 7)"),
                           ("fn", "figure8_false_negatives.png",
                            "Lowest-scoring false negatives (report Figure 8)")):
    errors.gallery(test.images, probs, test.keys,
                   errors.worst(test.labels, probs, kind, cfg.gallery_images), title,
                   os.path.join(out_dir, fig))
  train_probs = predictor.score_crops(data.train.images)
  rows = (
      errors.suspected_label_errors(test.keys, test.labels, probs, predictor.spec.name,
                                    cfg.label_error_confidence) +
      errors.suspected_label_errors(data.train.keys, data.train.labels, train_probs,
                                    predictor.spec.name, cfg.label_error_confidence))
  errors.write_votes_csv(rows, os.path.join(out_dir, "suspected_label_errors.csv"))
  n_fp = int(((test.labels == 0) & (probs >= 0.5)).sum())
  n_fn = int(((test.labels == 1) & (probs < 0.5)).sum())
  text = (
      f"Test errors at probability 0.5: {n_fp} false positives, {n_fn} false negatives.\n\n"
      "![false positives](analysis/figure7_false_positives.png)\n\n"
      "![false negatives](analysis/figure8_false_negatives.png)\n\n"
      "Suspected label errors (the model disagrees with probability >= "
      f"{cfg.label_error_confidence}): "
      f"{len(rows)} images (train and test), in `analysis/suspected_label_errors.csv`, in the "
      "vote format "
      "of `experiments.merge_labels` (`image,rater,answer`): add new raters' votes and merge.")
  return {
      "false_positives": n_fp,
      "false_negatives": n_fn,
      "suspected_label_errors": len(rows)
  }, text


def _threshold_section(cfg, predictor, data, test_d) -> tuple[dict, str]:
  val_d = cross_dataset.logit_diffs(predictor, data.val.images)
  temperature = calibration.temperature(data.val.labels, val_d)
  points = calibration.operating_points(data.val.labels, val_d, data.test.labels, test_d,
                                        cfg.target_precision, cfg.target_recall)
  lines = [
      "| rule (chosen on val) | probability threshold | test precision | test recall | test F1 | "
      "test accuracy |",
      "|---|--:|--:|--:|--:|--:|"
  ]
  for point in points:
    te = point["test"]
    lines.append(
        f"| {point['rule']} | {point['probability']:.3f} | {te['precision']:.3f} | "
        f"{te['recall']:.3f} | "
        f"{te['f1']:.3f} | {te['accuracy']:.3f} |")
  nll_before, nll_after = calibration.nll(data.test.labels,
                                          test_d), calibration.nll(data.test.labels,
                                                                   test_d / temperature)
  lines += [
      "",
      f"Temperature scaling on val: T = {temperature:.3f}; test NLL {nll_before:.4f} -> "
      f"{nll_after:.4f}."
  ]
  return {
      "temperature": temperature,
      "test_nll": [nll_before, nll_after],
      "operating_points": points
  }, "\n".join(lines)


def finetune(predictor, run_config, dataset_name: str, workdir: str, epochs: int,
             peak_lr: float) -> dict:
  """Fine-tunes the run's model on `dataset_name`; test AUC on its test split before and after."""
  cfg = run_config.copy_and_resolve_references()
  cfg.data.dataset = dataset_name
  cfg.data.split_manifest = os.path.join(workdir, "split.json")
  cfg.train.epochs, cfg.train.peak_lr, cfg.train.warmup_epochs = epochs, peak_lr, 1
  data = run_data.load(cfg.data, workdir, predictor.spec.input_shape)
  before = metrics.roc_auc(data.test.labels, cross_dataset.logit_diffs(predictor, data.test.images))
  spec = dataclasses.replace(predictor.spec, name=f"{predictor.spec.name}+{dataset_name}")
  summary = run_lib.train_evaluate_report(cfg, workdir, spec=spec, data=data,
                                       init_variables=predictor.variables).summary
  return {"dataset": dataset_name, "train_images": int(len(data.train.labels)),
          "test_images": int(len(data.test.labels)), "epochs": epochs, "peak_lr": peak_lr,
          "test_auc_before": before, "test_auc_after": evaluate.split_row(summary, "test")["auc"],
          "run_dir": os.path.abspath(workdir)}


def _cross_section(cfg, predictor, run_config, data, run_dir, temperature) -> tuple[dict, str]:
  other = builders.build(cfg.cross_dataset, run_data.tfds_dir(run_config.data.tfds_dir),
                         run_config.data.data_dir or None, run_config.data.image_size,
                         cfg.cross_max_per_class)
  other = dataclasses.replace(
      other, images=pipeline.fit_channels(other.images, predictor.spec.input_shape))
  # The model's own prior is the share of smiles it trained on, after class balancing.
  seen = data.train.labels[pipeline.epoch_indices(data.train.labels, run_config.train.seed,
                                                  run_config.data.balance)]
  source_prior = float(seen.mean())
  zero = cross_dataset.evaluate_on(predictor, other, temperature, source_prior)
  lines = [
      "| dataset | images | smiling | faces found | AUC (all) | AUC (faces found) | accuracy @0.5 "
      "| calibrated accuracy |",
      "|---|--:|--:|--:|--:|--:|--:|--:|",
      f"| {zero['dataset']} | {zero['images']:,} | {_pct(zero['smiling_share'])} | "
      f"{_pct(zero['face_detection_rate'])} | "
      f"{zero['auc_all']:.3f} | {zero['auc_faces_found'] or float('nan'):.3f} | "
      f"{zero['accuracy_uncalibrated']:.3f} | "
      f"{zero['accuracy_calibrated']:.3f} |", "",
      f"Calibration: val temperature {temperature:.2f}, then the prior shifted from the share of "
      "smiles seen "
      f"in training ({_pct(source_prior)}, after class balancing) to the share estimated from the "
      "target's unlabelled scores "
      f"({_pct(zero['estimated_smiling_share'])}; true {_pct(zero['smiling_share'])})."
  ]
  result = {"zero_shot": zero}
  if cfg.finetune_epochs:
    ft = finetune(predictor, run_config, cfg.cross_dataset,
                  os.path.join(run_dir, "analysis", f"finetune_{cfg.cross_dataset}"),
                  cfg.finetune_epochs, cfg.finetune_peak_lr)
    result["finetune"] = ft
    lines += [
        "",
        f"Fine-tuned on {ft['train_images']:,} {ft['dataset']} training images ({ft['epochs']} "
        "epochs, peak LR "
        f"{ft['peak_lr']}): test AUC on its own test split ({ft['test_images']:,} images) "
        f"{ft['test_auc_before']:.3f} -> **{ft['test_auc_after']:.3f}**."
    ]
  return result, "\n".join(lines)


def analyze_run(workdir: str, cfg) -> dict:
  run_dir, predictor, run_config, data = predict.load_run(workdir)
  out_dir = os.path.join(run_dir, "analysis")
  os.makedirs(out_dir, exist_ok=True)
  test_d = cross_dataset.logit_diffs(predictor,
                                     data.test.images)  # scored once, used by every section
  probs = calibration.sigmoid(test_d)
  result, sections = {"run_dir": run_dir, "model": predictor.spec.name}, []
  result["saliency"], text = _saliency_section(cfg, predictor, data.test, probs, out_dir)
  sections.append(("Saliency: where the net looks (report 5.1, Figure 6)", text))
  result["errors"], text = _errors_section(cfg, predictor, data, probs, out_dir)
  sections.append(("Errors (report 5.2, Figures 7 and 8)", text))
  result["thresholds"], text = _threshold_section(cfg, predictor, data, test_d)
  sections.append(("Thresholds and calibration", text))
  if cfg.cross_dataset in run_config.data.extra_datasets:
    # Not another dataset for this run: its test split's AUC is in the run's own metrics.
    sections.append((f"On {cfg.cross_dataset}", f"This run trained on {cfg.cross_dataset} "
                     "(its own train split), so no zero-shot figure is given: see the test AUC "
                     "per dataset in the run's metrics."))
  elif cfg.cross_dataset:
    result["cross_dataset"], text = _cross_section(cfg, predictor, run_config, data, run_dir,
                                                   result["thresholds"]["temperature"])
    sections.append((f"On {cfg.cross_dataset}", text))
  jsonfile.dump(result, os.path.join(out_dir, "analysis.json"), indent=1, default=float)
  body = "".join(f"\n## {h}\n\n{b}\n" for h, b in sections)
  with open(os.path.join(out_dir, "analysis.md"), "w") as file:
    file.write(f"# Analysis of `{predictor.spec.name}`\n{body.replace('](analysis/', '](')}")
  summary, evals = evaluate.read(run_dir)
  report.write_run_report(run_dir, summary, evaluate.read_history(run_dir), evals, sections)
  return result
