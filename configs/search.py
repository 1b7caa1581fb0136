r"""The reduction search (report section 4.1, Algorithm 1) from a zoo model, under an op budget.

Launch (2 cores; re-running resumes from runs.sqlite):
  .venv/bin/python -m experiments.search --config=configs/search.py:compact --workdir=runs/search \
      --config.run.data.split_manifest=runs/main/split.json
Variants after a colon, each a few overrides of the default below:
  (none)        best-first from the Table 1 AlexNet, the report's reductions: ~18 min; chose
                alexnet~88cdabb9 (1.29 M MACs), val 0.963, test 0.972.
  algorithm1    the report's depth-first procedure as written.
  compact       the main job's: wider moves from the compact root, SMILEsmileD + GENKI-4K, the
                robot's board limits, a teacher and distillation, 2 finalists, reference nets:
                24 min; ships compact~fa9e7bad (590,848 MACs, est. 18.0 ms), val 0.9774 +- 0.0010,
                test SMILEsmileD 0.9781 +- 0.0009, GENKI-4K 0.9604 +- 0.0036 (3 seeds).
  compact_300k  the same at 0.30 M MACs with 3 finalists and a challenger: ~19 min; ships the
                root at width/2 (259,072 MACs), test SMILEsmileD 0.9768 +- 0.0009.
  front         the 0.1-1.4 M front from the deep root with 3/4 widths, a finalist per MAC band,
                judged against every reference: 68 min; every reference dominated (RESULTS.md).
  smoke         plumbing only, ~1 min.
"""

import ml_collections

from configs import default

# The hand-designed nets of reference-points.md that a search from the compact root is judged
# against (zoo names; trained in the same run with the finalists' recipe).
REFERENCES = ("ref_stride2_1330k", "compact", "ref_gap_660k", "ref_stride2_260k")
# The main job's: ref_stride2_1330k (38 ms est., twice the robot's latency limit) is left to
# `:front`, so that the main job's search stays within 25 minutes.
BOARD_REFERENCES = REFERENCES[1:]
# What the robot needs: the chosen net within these on the SparkFun Edge. `latency_margin` raises
# the emulated-profile estimate: it under-predicted the compiled nets by up to 7% (RESULTS.md).
BOARD_LIMITS = dict(max_flash_bytes=64 * 1024, max_latency_ms=20.0, max_peak_ram_bytes=32 * 1024,
                    latency_margin=0.08)
# The whole Apollo3 (flash, SRAM), no latency limit.
APOLLO3_LIMITS = dict(max_flash_bytes=1024 * 1024, max_latency_ms=0.0, latency_margin=0.0,
                      max_peak_ram_bytes=384 * 1024)

# Candidates and finalists train with the report's recipe plus these overrides: flips, +-4 px
# shifts, +-10% zooms and +-20% lighting; the heavy blur/noise/occlusion augmentations cost tiny
# nets accuracy (RESULTS.md, "search recipe").
RECIPE = {
    "train": {"warmup_epochs": 1, "momentum": 0.9},
    "augment": {"occlusion_p": 0.0, "blur_p": 0.0, "noise_p": 0.0, "emboss_p": 0.0,
                "motion_weak_p": 0.0, "motion_strong_p": 0.0, "flip_p": 0.5, "affine_p": 1.0,
                "rotate_degrees": 0.0, "translate": 4 / 64, "scale": 0.1,
                "brightness_contrast_p": 0.5, "brightness": 0.2, "contrast": 0.2}}
# The teacher trains without the zooms and lighting: its students are as good at 0.55-0.59 M MACs
# and better at 0.26 M (RESULTS.md, "teacher recipe").
TEACHER_RECIPE = {"augment": {"scale": 0.0, "brightness_contrast_p": 0.0}}


def _search_fields(search):
  search.mode = "best_first"        # or "algorithm1", the report's depth-first procedure
  search.root = "alexnet"           # a zoo model, or the path of a spec JSON
  # "report": the report's reductions; "extended": also 3x3/2 convs, depthwise-separable pairs,
  # pooled heads, lower input resolutions and width/2; "fine": also 3/4 widths
  # (smile_jax/search/reductions.py).
  search.moves = "report"
  search.baseline_auc = 0.0         # AUC0: > 0 given; 0 short-trains the root
  search.keep = 0.8                 # the report's 80% of AUC - 0.5
  search.budget_macs = 1_380_000    # the report's 1.38 M ops (= MACs, smile_jax/cost/ops.py)
  # Board limits (0 = none), int8 estimates of smile_jax/cost/board.py (latency at 48 MHz).
  search.update(APOLLO3_LIMITS)
  search.seeds = 3
  # Where candidates train (smile_jax/search/executors.py): "local" or "ray" (one Ray task per
  # candidate; `pip install -r requirements-ray.txt`). `ray_address` "": a local Ray; "auto" or
  # "host:port": a cluster. `threads_per_worker` 0: a node's cores // workers.
  search.executor = "local"
  search.ray_address = ""
  search.workers = 2
  search.threads_per_worker = 0
  search.margin = 1.0               # decide on mean - margin x standard error
  search.epochs = 4                 # short training per candidate
  search.warmup_epochs = 1
  # Nets above this x budget are expanded, not trained: at 4x a search from AlexNet spent all its
  # time on 2-5 M-MAC nets that could not be chosen.
  search.train_above_budget = 1.0
  search.max_candidates = 24        # ends the search (machine speed does not change the result)
  search.max_minutes = 9.0          # a safety cap
  # MAC bounds below the budget (choice "one_se"): `finalists` from each band, each explored.
  search.bands = ()
  # "best_score": the finalists are the best by mean - margin x SE; "one_se": the cheapest within
  # one standard error of the best mean.
  search.choice = "best_score"
  # Retrained with the full recipe, `finalist_seeds` each; the one-SE rule over their full
  # training ships one: short training only nominates.
  search.finalists = 1
  search.finalist_seeds = 3
  # More nets trained in full, one per (reference, cost plane) no finalist dominates.
  search.challengers = 0
  # > 0: a reference undominated by less than the SE of the difference has it and its best rival
  # trained on to this many seeds before the verdict.
  search.tie_seeds = 0
  search.references = ()
  search.reference_seeds = 1        # seeds per reference net; several give mean +- sd


def get_config(variant: str = ""):
  config = ml_collections.ConfigDict()
  config.run = default.get_config()   # the recipe of candidates (short) and finalists (full)
  config.run.data.max_per_class = 0
  config.run.train.epochs = 20
  config.search = ml_collections.ConfigDict()
  _search_fields(config.search)
  config.search.recipe = ml_collections.ConfigDict(RECIPE)
  # Datasets trained on besides SMILEsmileD (each split on its own; val weighs them alike).
  config.search.recipe.data = {"extra_datasets": ()}
  # Distillation from the teacher stage (smile_jax/train/distill.py); weight 0: off.
  config.search.recipe.train.distill_weight = 0.0
  config.search.recipe.train.distill_temperature = 4.0
  # The teacher stage: a zoo `model` trained first with the full recipe for `epochs` plus its own
  # `recipe` overrides (or a trained run's `run_dir`, reused); empty: no teacher.
  config.search.teacher = ml_collections.ConfigDict(
      {"model": "", "run_dir": "", "epochs": 10, "recipe": TEACHER_RECIPE})
  VARIANTS[variant](config)
  return config


def _algorithm1(config):
  config.search.update(mode="algorithm1", seeds=1, max_candidates=40, max_minutes=30.0,
                       finalist_seeds=1)


def _compact(config):
  config.search.update(root="compact", moves="extended", choice="one_se", max_candidates=8,
                       max_minutes=30.0, finalists=2, references=BOARD_REFERENCES)
  config.search.update(BOARD_LIMITS)
  _with_genki_and_teacher(config)


def _compact_300k(config):
  _compact(config)
  config.search.update(budget_macs=300_000, max_candidates=16, max_minutes=45.0, finalists=3,
                       challengers=1, references=("ref_stride2_260k",), reference_seeds=3)


def _front(config):
  config.search.update(root="deep", moves="fine", choice="one_se", max_candidates=30,
                       max_minutes=50.0, bands=(300_000, 700_000), challengers=6, tie_seeds=5,
                       references=REFERENCES, reference_seeds=3)
  _with_genki_and_teacher(config)


def _with_genki_and_teacher(config):
  config.search.recipe.data.extra_datasets = ("genki4k",)
  config.search.teacher.model = "teacher"
  config.search.recipe.train.distill_weight = 0.5


def _smoke(config):
  # A 1-epoch candidate is near chance, so the cut-off is disabled (AUC0 0.01).
  config.run.data.max_per_class = 150
  config.search.update(root="embedded", seeds=2, epochs=1, max_candidates=3, max_minutes=5.0,
                       baseline_auc=0.01, finalist_seeds=1)


VARIANTS = {"": lambda config: None, "algorithm1": _algorithm1, "compact": _compact,
            "compact_300k": _compact_300k, "front": _front, "smoke": _smoke}
