r"""The main job: build the datasets, train the report's models, search, deploy, write the report.

Launch (what `make main` runs; resumes when re-run):
  .venv/bin/python -m experiments.main --config=configs/main.py --workdir=runs/main
Expected (idle 2-core CPU, fresh clone: 42.8 min with pip set-up, search stage ~18, the robot's
pipeline ~18 of which the smile net's tuning 6.2):
ships compact~fa9e7bad (conv 8/16/16/32 3x3/2 at 64x64, 590,848 MACs): val 0.9774 +- 0.0010,
test SMILEsmileD 0.9781 +- 0.0009, GENKI-4K 0.9604 +- 0.0036 (3 seeds); int8 bit-exact on the
emulated M4, 18.4 ms at 48 MHz, 39.7 KB flash, model RAM 31.6 KB. The robot's own pipeline (face
locator, crop, the int8 net tuned on device crops) on the robot's-eye test frames: AUC 0.914 /
0.842 / 0.708 (portrait / arm / room; the host's detection 0.901 / 0.892 / 0.777), 74.8 ms at 48
MHz on the median face frame (flash stalls included), QEMU bit-exact with its host reference on
200 frames (RESULTS.md, "The robot's eye").
Variants after a colon:
  report    the report's search from the Table 1 AlexNet (AUC0 0.966): picks alexnet~88cdabb9
            (1.29 M MACs), test 0.972, int8 88.6 ms estimated, 655 KB flash.
  full      every zoo model incl. the Table 1 AlexNet (~45 min more), its val AUC the AUC0.
  nosearch  the report's models and baselines, the Embedded net deployed (~11 min).
  smoke     200 images per class, 2 epochs, a 3-candidate search: the plumbing in ~2 min.
"""

import ml_collections

from configs import default, deploy, locator, search, smile_tune

REPORT_MODELS = ("embedded", "reduced_alexnet", "two_layer_fc")
REPORT_BASELINES = ("white_pixels", "haar_smile", "smiled_01")


def get_config(variant: str = ""):
  config = ml_collections.ConfigDict()
  config.variant = variant
  config.run = default.get_config()      # the recipe every model is trained with
  config.run.train.epochs = 20
  config.run.data.max_per_class = 0      # 0: every image
  config.models = REPORT_MODELS          # trained with the report's recipe
  config.chosen = "embedded"             # the run later stages deploy (summary.json chosen_run_dir)
  config.drop_baseline = "alexnet"       # AUC drop is relative to it; else the best net by val AUC
  config.baselines = REPORT_BASELINES
  config.cross_dataset = "genki4k"       # built too, its face detection rate reported; "": not
  config.augment_figure_images = 6
  # The search (configs/search.py:compact) from the compact root under the robot's board limits;
  # AUC0 0 is the root's short-training val AUC.
  config.search = search.get_config("compact").search
  config.search.enabled = True
  # Deploy the chosen net (configs/deploy.py): int8 and float, QEMU parity, unicorn profile; the
  # weights go to SRAM only within the robot's RAM for the model.
  config.deploy = deploy.get_config()
  config.deploy.enabled = True
  config.deploy.max_model_ram_bytes = search.BOARD_LIMITS["max_peak_ram_bytes"]
  # The robot's own pipeline (app/robot.py): the face locator (configs/locator.py) trained on the
  # job's split, the whole pipeline deployed, the robot's-eye frames of the test photos scored.
  config.locator = locator.get_config().locator
  config.locator.update(train_frames=24000, epochs=30)   # ~5 min of the job's 40
  config.smile_tune = smile_tune.get_config().smile_tune   # the chosen net on device crops
  config.robot = ml_collections.ConfigDict()
  config.robot.enabled = True
  config.robot.per_class = 150          # test photos per class and dataset drawn into frames
  config.robot.extra_frames = 100       # frames with no face, and as many with two
  config.robot.seed = 0
  config.robot.parity_frames = 200      # through the QEMU firmware against the host reference
  config.robot.cost_frames = 8          # face frames costed per stage in unicorn
  VARIANTS[variant](config)
  return config


def _report(config):
  # The report's search from the Table 1 AlexNet. This job does not train that net (~45 min), so
  # AUC0 is its val AUC at split seed 0, measured by tests/test_slow.py's AlexNet run.
  config.search = search.get_config("").search
  config.search.update(enabled=True, baseline_auc=0.966)


def _full(config):
  _report(config)
  config.models = ("alexnet",) + REPORT_MODELS
  config.baselines = REPORT_BASELINES + ("smiled_02", "smiled_03", "smiled_04", "smiled_05")
  config.search.baseline_auc = 0.0       # the Table 1 AlexNet's val AUC from this job


def _nosearch(config):
  config.search = search.get_config("").search
  config.search.update(enabled=False, root="alexnet")


def _smoke(config):
  config.locator.update(train_frames=256, val_frames=64, epochs=2)
  config.robot.update(per_class=4, extra_frames=4, parity_frames=8, cost_frames=2)
  config.smile_tune.update(per_class=40, copies=1, epochs=1)
  config.run.train.epochs = 2
  config.run.data.max_per_class = 200
  config.models = ("embedded", "two_layer_fc")
  config.baselines = ("white_pixels", "smiled_01")
  config.cross_dataset = ""
  config.search = search.get_config("smoke").search
  config.search.update(enabled=True, root="embedded")


VARIANTS = {"": lambda config: None, "report": _report, "full": _full, "nosearch": _nosearch,
            "smoke": _smoke}
