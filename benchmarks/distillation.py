r"""Knowledge distillation measured: each net trained with and without the teacher, 3 seeds.

  .venv/bin/python -m benchmarks.distillation --config=configs/search.py:compact \
      --workdir=runs/distillation --teacher=runs/teacher [--nets=ref_stride2_260k,compact]

Every run uses the search's full recipe (its datasets included) at split seed 0 and lands in
`<workdir>/<net>/<plain|distilled>_s<seed>/` (resumable). The table gives, per net and setting,
the mean and standard deviation over seeds of val AUC (the figure a choice is made on: the mean
over datasets) and, for the record only, test AUC per dataset. Keep distillation when its val
gain exceeds the seeds' spread; never decide on the test columns.
"""

import json
import os

from absl import flags
from ml_collections import config_flags

from experiments import cli
from smile_jax.data import run_data
from smile_jax.models import spec as spec_lib
from smile_jax.search import full_training, presentation, runner, short_training
from smile_jax.train import distill

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/search.py:compact", "The search's config.")
flags.DEFINE_string("workdir", None, "Where the runs go.")
flags.DEFINE_string("teacher", None, "A trained teacher run (e.g. configs/teacher.py's).")
flags.DEFINE_list("nets", ["ref_stride2_260k", "compact", "ref_stride2_1330k"],
                  "Nets, one per budget: zoo names or spec JSON paths (e.g. a search's "
                  "chosen_spec.json, at its own input size).")
flags.DEFINE_integer("seeds", 3, "Seeds per net and setting.")
flags.DEFINE_float("weight", 0.5, "Distillation weight of the distilled setting.")
flags.DEFINE_list("settings", ["plain", "distilled"], "Which settings to train (a subset of "
                  "plain,distilled: e.g. to measure another recipe change under distillation).")
flags.DEFINE_string("json", "", "Also write the rows as JSON here.")
flags.mark_flags_as_required(["workdir", "teacher"])


def main(_):
  unknown = sorted(set(FLAGS.settings) - {"plain", "distilled"})
  if unknown or not FLAGS.settings:
    raise ValueError(f"--settings={','.join(FLAGS.settings)}: use plain, distilled or both "
                     f"(unknown: {unknown})")
  base = full_training.full_recipe(FLAGS.config)
  data = run_data.load(base.data, FLAGS.workdir)
  data_for = short_training.data_by_input(data)
  if not os.path.exists(os.path.join(FLAGS.teacher, distill.LOGITS_FILE)):
    distill.write_teacher_logits(FLAGS.teacher, data.train)   # once; students read them by key
  rows = []
  for net in FLAGS.nets:
    spec = runner.root_spec(net, data.train.images.shape[1:])
    for setting, weight in (("plain", 0.0), ("distilled", FLAGS.weight)):
      if setting not in FLAGS.settings:
        continue
      for seed in range(FLAGS.seeds):
        cfg = base.copy_and_resolve_references()
        cfg.train.update({"seed": seed, "distill_weight": weight,
                          "teacher": FLAGS.teacher if weight else ""})
        run_dir = os.path.join(FLAGS.workdir, spec.name, f"{setting}_s{seed}")
        rows.append(full_training.full_run(cfg, run_dir, spec, data_for(spec)) | {
            "net": spec.name, "macs": spec_lib.total_macs(spec), "setting": setting})
  datasets = list(rows[0].get("test_auc_by_dataset", {"all": None}))
  print(f"Distillation from {FLAGS.teacher} (weight {FLAGS.weight}, temperature "
        f"{base.train.distill_temperature}), {FLAGS.seeds} seeds, mean ± sd:\n")
  print("| net | MACs | setting | val AUC | " + " | ".join(f"test AUC {d}" for d in datasets)
        + " |\n|---|--:|---|--:|" + "--:|" * len(datasets))
  for name in dict.fromkeys(r["net"] for r in rows):
    for setting in FLAGS.settings:
      group = [r for r in rows if r["net"] == name and r["setting"] == setting]
      tests = [presentation.mean_sd([r.get("test_auc_by_dataset", {"all": r["test_auc"]})[d]
                                     for r in group]) for d in datasets]
      print(f"| {name} | {group[0]['macs']:,} | {setting} | "
            f"{presentation.mean_sd([r['val_auc'] for r in group])} | " + " | ".join(tests) + " |")
  if FLAGS.json:
    with open(FLAGS.json, "w") as file:
      json.dump(rows, file, indent=1)


if __name__ == "__main__":
  cli.run(main)
