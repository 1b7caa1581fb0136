r"""Analyses a trained run: saliency and the mouth/cheek shares, error galleries, suspected label
errors, thresholds and calibration, zero-shot and fine-tuned numbers on another dataset.

  .venv/bin/python -m experiments.analyze --config=configs/analyze.py --workdir=runs/main
"""

from absl import flags
from ml_collections import config_flags

from experiments import cli
from app import analyze

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/analyze.py", "Analysis configuration.")
flags.DEFINE_string("workdir", None, "Trained run (or main job) directory.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  del argv
  result = analyze.analyze_run(FLAGS.workdir, FLAGS.config)
  vanilla = result["saliency"].get("vanilla")
  if vanilla:
    print(
        f"saliency (vanilla): mouth {vanilla['mouth']['share']:.1%}, cheeks "
        f"{vanilla['cheeks']['share']:.1%}, "
        f"elsewhere {vanilla['elsewhere']['share']:.1%} over {vanilla['n']} faces")
  cross = result.get("cross_dataset", {})
  if "zero_shot" in cross:
    zero_shot = cross["zero_shot"]
    print(
        f"{zero_shot['dataset']}: AUC {zero_shot['auc_all']:.3f} (faces found "
        f"{zero_shot['face_detection_rate']:.1%}), accuracy "
        f"{zero_shot['accuracy_uncalibrated']:.3f} -> {zero_shot['accuracy_calibrated']:.3f} "
        "calibrated")
  if "finetune" in cross:
    print(
        f"fine-tuned: test AUC {cross['finetune']['test_auc_before']:.3f} -> "
        f"{cross['finetune']['test_auc_after']:.3f}"
    )
  print(f"report: {result['run_dir']}/report.md")


if __name__ == "__main__":
  cli.run(main)
