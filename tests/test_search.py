"""The reduction search: reductions, the run store, Algorithm 1 and the best-first mode.

The algorithms are driven by a synthetic, deterministic trainer (quality falls with log MACs) so
their decisions can be checked exactly; the real short trainings are exercised in the launcher test.
"""

import dataclasses
import json
import math
import os

import numpy as np
import pytest

from smile_jax.cost import board, ops as ops_lib
from smile_jax.io import jsonfile
from smile_jax.models import spec as spec_lib, zoo
from smile_jax.search import (algorithm1, best_first, candidates, constraints, full_training,
                              judging, reductions, scheduler, short_training)
from smile_jax.search.store import RunStore
from tests.test_spec import SEPARABLE


def synthetic_trainer(calls):
  """`train(spec, seeds)`: a result per seed, its AUC falling with log MACs; logs (hash, seed)."""
  def train(spec, seeds):
    out = []
    for seed in seeds:
      calls.append((spec.canonical_hash(), seed))
      macs = spec_lib.total_macs(spec)
      auc = 0.97 - 0.02 * max(0.0, math.log2(805_632 / macs)) + 0.002 * (seed - 1)
      out.append({"val_auc": auc, "val_loss": 1 - auc, "seconds": 0.0})
    return out
  return train


def best_first_search(executor, store, limits, *, seeds=(0,), margin=1.0, max_candidates=1000,
                      moves="report", bands=(), train_above_budget=4.0):
  """A BestFirst strategy over a scheduler of `executor` (a trainer or an executor)."""
  sched = scheduler.Scheduler(executor, store, limits, seeds=seeds, epochs=0,
                              max_candidates=max_candidates, max_seconds=float("inf"))
  return best_first.BestFirst(sched, margin=margin, moves=moves, bands=bands,
                              train_above_budget=train_above_budget)


def test_reductions_apply_and_explain_skips():
  found = {option.description: option for option in reductions.reductions(zoo.embedded())}
  assert spec_lib.total_macs(found["conv_0 filters/2"].spec) == 682_368
  assert found["conv_0 filters/2"].spec.layers[0].features == 6
  assert found["conv_0 stride+1"].spec is None and "does not reduce MACs" in found[
      "conv_0 stride+1"].reason
  assert found["remove max_pool_1"].spec is None
  assert found["conv_2 kernel-2"].spec.layers[2].kernel == 3 and found[
      "conv_5 kernel-2"].spec.layers[5].kernel == 1
  assert found["conv_0 kernel-2"].spec.layers[0].kernel == 9        # stride 8 <= 9
  assert "skips pixels" in reductions.reductions(found["conv_0 kernel-2"].spec)[[
      option.description for option in reductions.reductions(found["conv_0 kernel-2"].spec)
  ].index("conv_0 kernel-2")].reason
  assert [l.type for l in found["remove conv_5"].spec.layers].count("conv") == 2
  for option in reductions.valid(zoo.embedded()):
    assert spec_lib.total_macs(option.spec) < 805_632


def test_extended_moves_reach_compact_nets():
  compact = zoo.compact()
  found = {option.description: option for option in reductions.extended_moves(compact)}
  assert "already a 3x3 stride-2" in found["conv_0 3x3/2"].reason
  assert "one channel" in found["conv_0 separable"].reason       # a one-channel input
  pair = found["conv_2 separable"].spec.layers[2:4]
  assert (pair[0].type, pair[0].kernel, pair[0].stride) == ("depthwise_conv", 3, 2)
  assert (pair[1].type, pair[1].kernel, pair[1].features) == ("conv", 1, 16)
  assert found["pool head"].spec.layers[-2].type == "global_avg_pool"
  assert found["input 48"].spec.input_shape == (48, 48, 1)
  assert found["input 32"].spec.input_shape == (32, 32, 1)
  assert "not below" in reductions.extended_moves(found["input 32"].spec)[-2].reason
  half = found["width/2"].spec                       # the 0.26 M reference, in one step
  assert half.canonical_hash() == zoo.ref_stride2_260k().canonical_hash()
  assert spec_lib.total_macs(half) == 259_072
  narrow = spec_lib.ModelSpec("narrow", (spec_lib.Conv(3, 3, stride=2), spec_lib.Flatten(),
                                         spec_lib.Dense(2, activation="none")), (64, 64, 1))
  assert "layer 0 1 features" in {o.description: o for o in
                                  reductions.extended_moves(narrow)}["width/2"].reason
  for option in reductions.valid(compact, "extended"):
    assert spec_lib.total_macs(option.spec) < spec_lib.total_macs(compact), option.description
  alexnet = {option.description: option for option in reductions.extended_moves(zoo.alexnet())}
  assert alexnet["conv_3 3x3/2"].spec.layers[3].kernel == 3
  report_only = {option.description for option in reductions.valid(compact)}
  assert not any("separable" in d or d.startswith(("input", "pool head")) for d in report_only)
  with pytest.raises(ValueError, match="moves must be one of"):
    reductions.valid(compact, "everything")



def test_fine_moves_reach_the_top_reference_from_the_deep_root():
  deep = zoo.deep()
  assert spec_lib.total_macs(deep) == 1_550_336
  fine = {option.description: option for option in reductions.valid(deep, "fine")}
  extended = {option.description for option in reductions.valid(deep, "extended")}
  assert extended < set(fine)                        # fine = extended + the 3/4 widths
  assert not any("*3/4" in description for description in extended)
  # The fifth conv removed is the compact root; the fourth at 48 filters is the 1.33 M reference.
  assert fine["remove conv_8"].spec.canonical_hash() == zoo.compact().canonical_hash()
  top = fine["conv_6 filters*3/4"].spec
  assert top.layers[6].features == 48
  assert top.canonical_hash() == zoo.ref_stride2_1330k().canonical_hash()
  assert spec_lib.total_macs(top) == 1_329_152
  for option in fine.values():
    assert spec_lib.total_macs(option.spec) < 1_550_336, option.description
  narrow = spec_lib.ModelSpec("narrow", (spec_lib.Conv(2, 3, stride=2), spec_lib.Flatten(),
                                         spec_lib.Dense(2, activation="none")), (64, 64, 1))
  skipped = {o.description: o for o in reductions.finer_widths(narrow)}["conv_0 filters*3/4"]
  assert skipped.spec is None and "would leave 1 filters" in skipped.reason

def test_search_roots_and_lower_resolutions_train(tmp_path, tfds_dir, shared_data_dir):
  from configs import search as search_config
  from smile_jax.data import run_data
  from smile_jax.search import runner
  spec_path = tmp_path / "root.json"
  spec_path.write_text(zoo.compact().to_json())
  assert runner.root_spec(str(spec_path), (64, 64, 1)) == zoo.compact()
  with pytest.raises(FileNotFoundError, match="give a zoo name"):
    runner.root_spec(str(tmp_path / "missing.json"), (64, 64, 1))
  config = search_config.get_config("smoke")
  config.run.data.tfds_dir = tfds_dir
  config.run.data.max_per_class = 60
  data = run_data.load(config.run.data, str(tmp_path))
  data_for = short_training.data_by_input(data)
  small = zoo.compact().with_input_shape((32, 32, 1))
  assert data_for(small).train.images.shape[1:] == (32, 32, 1)
  assert data_for(small) is data_for(small) and data_for(zoo.compact()) is data
  [result] = short_training.trainer(config, data_for)(small, (0,))
  assert 0.0 <= result["val_auc"] <= 1.0 and result["seconds"] > 0


def test_store_round_trip_and_resume(tmp_path):
  store = RunStore(str(tmp_path / "runs.sqlite"))
  store.put(hash="h", seed=0, spec_json="{}", status="done", val_auc=0.9, val_loss=0.3)
  store.close()
  again = RunStore(str(tmp_path / "runs.sqlite"))
  assert again.get("h", 0)["val_auc"] == 0.9 and again.get("h", 1) is None
  with pytest.raises(KeyError, match="unknown run-store columns"):
    again.put(hash="h", seed=2, spec_json="{}", status="done", colour="red")
  again.close()
  path = str(tmp_path / "recipe.sqlite")
  RunStore(path, {"train.epochs": 4, "data.extra_datasets": []}).close()
  RunStore(path, {"train.epochs": 4, "data.extra_datasets": []}).close()   # same: reopens
  with pytest.raises(ValueError, match=r"another recipe \(differs in \['data.extra_datasets'\]"):
    RunStore(path, {"train.epochs": 4, "data.extra_datasets": ["genki4k"]})
  # A store of another version (another column) is refused, naming a new workdir as the fix.
  other = str(tmp_path / "other.sqlite")
  RunStore(other).close()
  import sqlite3
  db = sqlite3.connect(other)
  db.execute("ALTER TABLE runs ADD COLUMN colour TEXT")
  db.commit()
  db.close()
  with pytest.raises(ValueError, match=r"another version.*\['colour'\].*new --workdir"):
    RunStore(other)


def test_the_store_fingerprint_holds_what_trainings_depend_on_not_where_files_are():
  from configs import search as search_config
  config = search_config.get_config("compact")
  on = short_training.stored_recipe(config)
  assert (on["augment.scale"], on["augment.brightness_contrast_p"], on["train.epochs"]) == (
      0.1, 0.5, config.search.epochs)
  assert not set(short_training.WHERE) & set(on) and on["teacher"] is False
  config.run.data.tfds_dir = "/elsewhere"
  assert short_training.stored_recipe(config) == on
  config.search.recipe.augment.scale = 0.0
  assert short_training.stored_recipe(config) == on | {"augment.scale": 0.0}


def test_algorithm1_stops_at_first_success_depth_first(tmp_path):
  calls = []
  search = best_first_search(synthetic_trainer(calls), RunStore(str(tmp_path / "a.sqlite")),
                        constraints.Constraints(budget_macs=600_000))
  found = algorithm1.algorithm1(search.scheduler, zoo.embedded(), 0.9, "report")
  # Depth first along the first reduction: conv_0 filters/2 (682k) then its first reduction (3
  # filters, 651k)...
  assert found is not None and found.feasible and found.mean_auc >= 0.9
  assert spec_lib.total_macs(found.spec) <= 600_000
  assert len(calls) == len({c for c in calls})  # one seed each, no spec trained twice
  first_child = reductions.valid(zoo.embedded())[0].spec.canonical_hash()
  assert calls[1][0] == first_child


def test_best_first_explores_beyond_first_success_and_resumes(tmp_path):
  calls = []
  store_path = str(tmp_path / "b.sqlite")
  kwargs = dict(seeds=(0, 1, 2), margin=1.0, max_candidates=12)
  search = best_first_search(synthetic_trainer(calls), RunStore(store_path),
                        constraints.Constraints(budget_macs=600_000), **kwargs)
  beta = constraints.quality_cutoff(0.97, 0.8)
  trained = search.run(zoo.embedded(), beta, root_quality=0.97)
  assert len(trained) == 12 and len(calls) == 36 and len(set(calls)) == 36
  assert sum(c.feasible for c in trained) >= 2  # it did not stop at the first success
  front = candidates.pareto_front([c for c in trained if c.feasible], margin=1.0)
  scores = [c.score(1.0) for c in front]
  assert scores == sorted(
      scores)  # cheaper front members never score higher (synthetic quality rises with MACs)

  def must_not_train(spec, seeds):
    raise AssertionError("a finished candidate was trained again")
  resumed = best_first_search(must_not_train, RunStore(store_path),
                              constraints.Constraints(budget_macs=600_000), **kwargs)
  again = resumed.run(zoo.embedded(), beta, root_quality=0.97)
  assert [c.hash for c in again] == [c.hash for c in trained]
  assert [c.aucs for c in again] == [c.aucs for c in trained] and resumed.scheduler.trainings == 0


def test_margin_and_constraints():
  cand = candidates.Candidate(zoo.embedded(), None, "", None, aucs=[0.90, 0.92, 0.94])
  assert cand.score(1.0) == pytest.approx(0.92 - np.std([0.9, 0.92, 0.94], ddof=1) / math.sqrt(3))
  from smile_jax.cost import ops
  cost = ops.analyze(zoo.embedded())
  candidate = constraints.Constraints(
      budget_macs=1_000_000, max_peak_ram_bytes=1000, max_flash_bytes=10**6)
  assert candidate.violations(cost, zoo.embedded()) == [f"peak RAM {64 * 64 + 8 * 8 * 12:,} B > 1,000 B"]
  assert constraints.quality_cutoff(0.715, 0.8) == pytest.approx(0.672)  # the report's 0.67


def test_board_costs_and_the_flash_constraint():
  spec = zoo.compact()
  cost = ops_lib.analyze(spec)
  costs = board.board_cost(spec)
  # weights 26,434 B + 12 B x (4 convs + 4 batch norms: 2 x (8+16+32+64) channels + 2 logits)
  # + code 8 KB + 1.5 KB x 6 kernels; the compiled int8 firmware took 46,644 B (WORKSPACE.md).
  assert costs.est_flash_bytes == 26_434 + 12 * (2 * 120 + 2) + 8 * 1024 + 6 * 1536
  assert 46_644 <= costs.est_flash_bytes <= 1.2 * 46_644
  assert costs.macs == 960_512 and costs.peak_ram_bytes == cost.peak_activation_bytes("int8")
  for other in (zoo.embedded(), zoo.ref_gap_660k(), SEPARABLE):   # arithmetic == the jaxpr count
    traced, priced = ops_lib.analyze(other), board.board_cost(other)
    assert (priced.macs, priced.peak_ram_bytes) == (traced.macs,
                                                    traced.peak_activation_bytes("int8"))
    assert ops_lib.folded_params(other) == traced.params       # what the flash estimate adds
  assert constraints.Constraints(budget_macs=1_380_000, max_flash_bytes=costs.est_flash_bytes).violations(cost, spec) == []
  assert constraints.Constraints(budget_macs=1_380_000, max_flash_bytes=costs.est_flash_bytes - 1).violations(
      cost, spec) == [f"est. flash {costs.est_flash_bytes:,} B > {costs.est_flash_bytes - 1:,} B"]


def test_one_se_rule_prefers_the_cheaper_net_within_the_noise():
  def cand(spec, aucs):
    return candidates.Candidate(spec, None, "", ops_lib.analyze(spec), aucs=aucs)
  big = cand(zoo.compact(), [0.970, 0.972, 0.974])     # mean 0.972, one SE 0.0012
  small = cand(zoo.compact().with_input_shape((32, 32, 1)), [0.970, 0.971, 0.973])  # 0.9713
  worse = cand(zoo.embedded(), [0.95, 0.951, 0.952])
  assert candidates.one_se_choice([big, small, worse]) == [small]
  far = cand(zoo.compact().with_input_shape((32, 32, 1)), [0.960, 0.961, 0.962])
  assert candidates.one_se_choice([big, far, worse]) == [big]
  assert candidates.one_se_choice([]) == []
  # More finalists: the others within the error, cheapest first, then the rest by mean AUC.
  assert candidates.one_se_choice([worse, big, small], count=3) == [small, big, worse]
  assert candidates.one_se_choice([worse, far, big], count=2) == [big, far]
  front = candidates.pareto_front([big, small, worse], 1.0)
  assert small in front and worse not in front                # dominated on every cost and AUC


def test_full_training_chooses_among_the_finalists():
  """Short training nominates; the one-SE rule over the finalists' full-training seeds ships."""
  big, small = (candidates.Candidate(spec, None, "", ops_lib.analyze(spec), aucs=[0.96, 0.97])
                for spec in (zoo.compact(), zoo.compact().with_input_shape((32, 32, 1))))
  def runs(*vals):
    return {"seeds": [{"seed": seed, "val_auc": val} for seed, val in enumerate(vals)]}
  finals = {big.hash: runs(0.975, 0.976, 0.977), small.hash: runs(0.970, 0.971, 0.972)}
  assert judging.choose([small, big], finals) is big        # small is > one SE under
  finals[small.hash] = runs(0.975, 0.9755, 0.976)
  assert judging.choose([big, small], finals) is small      # within it: the cheaper net
  assert judging.choose([], {}) is None


def test_runner_with_real_short_trainings_resumes(tmp_path, tfds_dir, shared_data_dir):
  """The whole search stage on real data: GENKI-4K trained on too, a teacher distilled from,
  a reference net; then a re-run that trains nothing."""
  from configs import search as search_config
  from smile_jax.search import runner
  config = search_config.get_config("smoke")
  config.run.data.tfds_dir = tfds_dir
  config.run.train.epochs = 2
  config.search.finalist_seeds = 2
  config.search.recipe.data.extra_datasets = ("genki4k",)
  config.search.recipe.train.distill_weight = 0.5
  config.search.teacher.update({"model": "ref_stride2_260k", "epochs": 1})
  config.search.teacher.recipe.augment.translate = 0.0          # the teacher's own override
  config.search.references = ("ref_gap_660k",)
  config.search.reference_seeds = 2
  first = runner.run_search(config, str(tmp_path)).summary
  assert first["candidates_trained"] == 3
  assert first["trainings_run"] == 3 * 2  # AUC0 given: root untrained
  chosen = first["chosen"]
  assert chosen["macs"] <= config.search.budget_macs
  assert set(chosen["val_auc_by_dataset"]) == set(chosen["test_auc_by_dataset"]) == {
      "smilesmiled", "genki4k"}
  assert chosen["val_auc"] == pytest.approx(np.mean(list(chosen["val_auc_by_dataset"].values())))
  for key in ("est_flash_bytes", "est_latency_ms_48mhz", "peak_ram_bytes"):
    assert chosen[key] > 0 and all(row[key] > 0 for row in first["front"]), key
  chosen_row = next(row for row in first["front"] if row["hash"] == chosen["hash"])
  assert chosen_row["short_val_auc"] == chosen["short_val_auc"] != chosen_row["val_auc"]
  finalist_runs = sorted(os.listdir(tmp_path / "finalists"))
  assert len(finalist_runs) == 2
  assert finalist_runs[1] == finalist_runs[0] + "_s1"  # two seeds, best val kept
  vals = [json.load(open(tmp_path / "finalists" / d / "metrics.json"))["splits"][0]
          ["mean_dataset_auc"] for d in finalist_runs]
  assert chosen["val_auc"] == max(vals)
  [finalist] = first["finalists"]
  assert finalist["hash"] == chosen["hash"] and [r["val_auc"] for r in finalist["seeds"]] == vals
  teacher = first["teacher"]
  assert teacher["name"] == "ref_stride2_260k" and 0.0 <= teacher["test_auc"] <= 1.0
  assert (tmp_path / "teacher" / "teacher_logits.npz").exists()
  finalist_config = jsonfile.load(str(tmp_path / "finalists" / finalist_runs[0] / "config.json"))
  assert finalist_config["train"]["teacher"] == str(tmp_path / "teacher")
  teacher_config = jsonfile.load(str(tmp_path / "teacher" / "config.json"))
  assert teacher_config["augment"]["translate"] == 0.0 != finalist_config["augment"]["translate"]
  assert teacher_config["train"]["epochs"] == 1 and not teacher_config["train"]["distill_weight"]
  assert finalist_config["data"]["extra_datasets"] == ["genki4k"]
  [reference] = first["references"]
  assert reference["name"] == "ref_gap_660k" and reference["macs"] == 663_616
  assert "genki4k" in reference["test_auc_by_dataset"]
  assert [run["seed"] for run in reference["seeds"]] == [0, 1]
  assert reference["val_auc"] == max(run["val_auc"] for run in reference["seeds"])
  for name in ("search_figure.png", "search.md", "chosen_spec.json", "runs.sqlite"):
    assert (tmp_path / name).exists(), name
  assert "ref_gap_660k (reference)" in (tmp_path / "search.md").read_text()
  assert "(2 seeds)" in (tmp_path / "search.md").read_text()          # its val and test spread
  second = runner.run_search(config, str(tmp_path)).summary
  assert second["trainings_run"] == 0
  assert second["chosen"]["name"] == chosen["name"]
  assert second["chosen"]["test_auc"] == chosen["test_auc"]
  assert second["teacher"]["test_auc"] == teacher["test_auc"]


def test_bad_search_configs_fail_before_training(tmp_path):
  from configs import search as search_config
  from smile_jax.search import runner
  cases = [("search.choice", "cheapest", "config.search.choice must be one of"),
           ("search.references", ("no_such_net",), "config.search.references"),
           ("search.teacher.run_dir", str(tmp_path / "gone"), "config.search.teacher.run_dir"),
           ("search.recipe.train.distill_weight", 0.5, "needs a teacher"),
           ("search.bands", (700_000, 300_000), "config.search.bands"),
           ("search.bands", (2_000_000,), "config.search.bands"),
           ("search.root", "nonet", "unknown model"),
           ("search.root", str(tmp_path / "bad.json"), "unknown type 'convolution'"),
           ("search.root", str(tmp_path / "none.json"), "give a zoo name")]
  bad = json.loads(zoo.compact().to_json())
  bad["layers"][0]["type"] = "convolution"
  (tmp_path / "bad.json").write_text(json.dumps(bad))
  for field, value, message in cases:
    config = search_config.get_config("smoke")
    config.run.data.tfds_dir = str(tmp_path / "tfds-never-built")
    parent, _, leaf = field.rpartition(".")
    node = config
    for part in parent.split("."):
      node = node[part]
    node[leaf] = value
    with pytest.raises((ValueError, FileNotFoundError), match=message):
      runner.run_search(config, str(tmp_path / "w"))
    assert not (tmp_path / "tfds-never-built").exists(), field   # failed before any data work


def test_sigkilled_search_resumes_to_the_same_result(tmp_path, tfds_dir, smoke_search):
  import subprocess
  from tests.conftest import REPO, kill_once_stored, smoke_command
  workdir = tmp_path / "killed"
  cmd = smoke_command(workdir, tfds_dir)
  proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  kill_once_stored(proc, workdir / "runs.sqlite")
  assert not (workdir / "search_summary.json").exists()
  subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  resumed = json.loads((workdir / "search_summary.json").read_text())
  reference = smoke_search
  assert resumed["trainings_run"] <= reference["trainings_run"] - 2  # finished ones were not redone
  assert resumed["chosen"]["name"] == reference["chosen"]["name"]
  assert resumed["chosen"]["test_auc"] == pytest.approx(reference["chosen"]["test_auc"], abs=1e-6)
  assert [f["hash"] for f in resumed["front"]] == [f["hash"] for f in reference["front"]]


def test_latency_constraint_uses_the_emulated_profile():
  spec = zoo.embedded()
  latency = board.estimated_latency_ms(spec)
  assert latency is not None and 20 < latency < 200   # ~2.9 M cycles at 48 MHz when fitted
  cost = ops_lib.analyze(spec)
  assert constraints.Constraints(budget_macs=1_380_000, max_latency_ms=latency * 1.1).violations(cost, spec) == []
  assert "est. latency" in constraints.Constraints(budget_macs=1_380_000, max_latency_ms=latency * 0.9).violations(
      cost, spec)[0]
  margin = constraints.Constraints(budget_macs=1_380_000, max_latency_ms=latency * 1.05, latency_margin=0.08)
  assert "+8% margin" in margin.violations(cost, spec)[0]            # 1.08 x the estimate > limit
  assert margin.overshoot(spec) == pytest.approx(1.08 / 1.05)


def test_best_first_trains_only_nets_within_every_board_limit(tmp_path):
  limits = constraints.Constraints(budget_macs=1_380_000, max_latency_ms=20.0,
                                  max_flash_bytes=64 * 1024, max_peak_ram_bytes=32 * 1024)
  search = best_first_search(synthetic_trainer([]), RunStore(str(tmp_path / "c.sqlite")), limits,
                             train_above_budget=1.0, max_candidates=6, moves="extended")
  compact = zoo.compact()
  costs = board.board_cost(compact)
  assert limits.overshoot(compact) == pytest.approx(max(
      costs.macs / 1_380_000, costs.latency_ms / 20.0, costs.est_flash_bytes / (64 * 1024),
      costs.peak_ram_bytes / (32 * 1024)))
  # ~28 ms on the hand loops: latency binds, not MACs (0.96 M of 1.38 M)
  assert limits.overshoot(compact) == pytest.approx(costs.latency_ms / 20.0)
  assert limits.overshoot(compact) > 1.2
  trained = search.run(compact, beta=0.9, root_quality=0.97)
  assert len(trained) == 6
  for cand in trained:                     # over-limit nets were expanded, never trained
    assert limits.overshoot(cand.spec) <= 1.0 and cand.feasible, cand.spec.name


def test_tables_give_the_spread_over_seeds():
  from smile_jax.search import presentation
  row = {"val_auc": 0.98, "seeds": [
      {"val_auc": 0.97, "val_auc_by_dataset": {"smile": 0.96, "genki": 0.98}},
      {"val_auc": 0.98, "val_auc_by_dataset": {"smile": 0.97, "genki": 0.99}}]}
  assert presentation.spread_cell(row, "val") == (
      "0.9750 ± 0.0071 (2 seeds) (smile 0.9650 ± 0.0071, genki 0.9850 ± 0.0071)")
  assert presentation.spread_cell({"val_auc": 0.97, "seeds": row["seeds"][:1]}, "val") == "0.970"


def test_bands_give_finalists_across_the_costs_and_explore_each_band(tmp_path):
  def cand(spec, aucs):
    return candidates.Candidate(spec, None, "", ops_lib.analyze(spec), aucs=aucs)
  big = cand(zoo.compact(), [0.975, 0.976, 0.977])                            # 960,512 MACs
  mid = cand(zoo.compact().with_input_shape((48, 48, 1)), [0.970, 0.971, 0.972])   # 540,288
  small = cand(zoo.ref_stride2_260k(), [0.960, 0.962, 0.964])                 # 259,072
  tiny = cand(zoo.compact().with_input_shape((32, 32, 1)), [0.950, 0.951, 0.952])  # 240,128
  assert candidates.banded_choice([tiny, big, small, mid]) == [big]       # no bands: one_se
  assert candidates.banded_choice([tiny, big, small, mid], (300_000, 700_000)) == [
      small, mid, big]                                                    # one per band
  assert candidates.banded_choice([tiny, small, big], (259_072, 700_000), count=2) == [
      small, tiny, big]                             # a bound's own net is in the band below
  # Best-first takes each band's dearest nets as it takes the budget's: the 0.26 M net, far
  # under the budget, sits just under the 0.30 M band's bound.
  banded = best_first_search(synthetic_trainer([]), RunStore(str(tmp_path / "d.sqlite")),
                             constraints.Constraints(budget_macs=1_380_000),
                             bands=(300_000, 700_000))
  assert banded.gap(small.spec) == pytest.approx(259_072 / 300_000)
  assert banded.gap(big.spec) == pytest.approx(960_512 / 1_380_000)
  assert banded.gap(zoo.alexnet()) > 1                                # over the budget: as is
  plain = best_first_search(synthetic_trainer([]), RunStore(str(tmp_path / "e.sqlite")),
                            constraints.Constraints(budget_macs=1_380_000))
  assert plain.gap(small.spec) == pytest.approx(259_072 / 1_380_000)


def test_bands_share_the_candidates_from_a_root_with_many_nets_near_the_budget(tmp_path):
  # The deep root has 28 reductions between 0.7 M and the budget and 2 below: by priority
  # alone best-first would spend 9 candidates there; each band takes its turn instead.
  def run(bands, name):
    search = best_first_search(synthetic_trainer([]), RunStore(str(tmp_path / name)),
                               constraints.Constraints(budget_macs=1_380_000), seeds=(0,),
                               train_above_budget=1.0, max_candidates=9, moves="fine",
                               bands=bands)
    trained = search.run(zoo.deep(), constraints.quality_cutoff(0.97, 0.8), root_quality=0.97)
    assert all(spec_lib.total_macs(cand.spec) <= 1_380_000 for cand in trained)
    return sorted(int(np.searchsorted((300_000, 700_000), spec_lib.total_macs(cand.spec)))
                  for cand in trained)
  assert run((300_000, 700_000), "shared.sqlite") == [0, 0, 0, 1, 1, 1, 2, 2, 2]
  assert run((), "plain.sqlite") == [2] * 9    # no bands: the priority order, all near the budget


def test_references_dominated_on_each_plane():

  def row(name, macs, latency, flash, *vals):
    return {"name": name, "macs": macs, "est_latency_ms_48mhz": latency, "est_flash_bytes": flash,
            "val_auc": max(vals), "test_auc": 0.9,
            "seeds": [{"val_auc": v, "test_auc": 0.9} for v in vals]}
  reference = row("ref", 660_000, 20.0, 25_000, 0.940, 0.944)          # mean 0.942
  cheaper_better = row("a", 590_000, 18.0, 40_000, 0.975, 0.973)      # flash dearer
  same = row("b", 660_000, 20.0, 25_000, 0.941, 0.943)                 # the same net: a tie
  worse = row("c", 300_000, 9.0, 20_000, 0.930, 0.950)                 # mean 0.940 < 0.942
  dearer = row("d", 700_000, 19.0, 24_000, 0.990, 0.990)               # more MACs
  assert judging.dominators(reference, [cheaper_better, same, worse, dearer]) == {
      "est_latency_ms_48mhz": ["a", "b"], "est_flash_bytes": ["b"]}
  assert judging.mean_val_auc({"val_auc": 0.9}) == 0.9              # one seed, no list
  from smile_jax.search import presentation
  table = presentation.reference_table(
      [reference | {"peak_ram_bytes": 1,
                    "dominated_by": judging.dominators(reference, [cheaper_better])}], None)
  assert table.splitlines()[-1].endswith("| a | none |")


def test_a_reference_that_is_a_finalists_net_takes_its_runs(tmp_path):
  """The reference whose architecture a finalist trained with enough seeds is not trained again
  (data_for would be asked for its data): it takes the finalist's row under its own name; with
  fewer finalist seeds than the references need, it is trained."""
  import ml_collections
  spec = zoo.get("ref_stride2_260k", (64, 64, 1))
  seeds = [{"seed": s, "val_auc": 0.97 + s / 1000, "test_auc": 0.96} for s in range(3)]
  finals = {spec.canonical_hash(): {"name": "compact~3e39bce0", "run_dir": "f", "seed": 2,
                                    "val_auc": 0.972, "test_auc": 0.96, "seeds": seeds}}
  config = ml_collections.ConfigDict({"search": {"references": ("ref_stride2_260k",),
                                                 "reference_seeds": 3}})

  def data_for(spec):
    raise AssertionError(f"{spec.name} trained again")
  [row] = full_training.train_references(config, str(tmp_path), data_for, (64, 64, 1), finals)
  assert row["name"] == "ref_stride2_260k" and row["same_net_as"] == "compact~3e39bce0"
  assert row["seeds"] == seeds and row["macs"] == 259_072 and row["est_flash_bytes"] > 0
  from smile_jax.search import presentation
  assert "(reference, = compact~3e39bce0)" in presentation.reference_table([row], None)
  config.search.reference_seeds = 4
  with pytest.raises(AssertionError, match="trained again"):
    full_training.train_references(config, str(tmp_path), data_for, (64, 64, 1), finals)


def test_a_challenger_of_a_references_shape_takes_its_runs_and_can_be_chosen(tmp_path):
  """A challenger whose architecture a reference trained with enough seeds is not trained again;
  the one-SE rule over finalists and challengers then ships it when its full training is best."""
  import ml_collections
  from smile_jax.search import presentation
  half = zoo.get("ref_stride2_260k", (64, 64, 1))
  low_res = zoo.compact().with_input_shape((32, 32, 1))

  def cand(spec, name):
    return candidates.Candidate(dataclasses.replace(spec, name=name), None, "",
                                ops_lib.analyze(spec), aucs=[0.96, 0.96], feasible=True)
  finalist, challenger = cand(low_res, "compact~58a5fe92"), cand(half, "compact~3e39bce0")

  def seeded(name, *vals):
    return {"name": name, "val_auc": max(vals), "test_auc": 0.97,
            "seeds": [{"seed": i, "val_auc": v, "test_auc": 0.97} for i, v in enumerate(vals)]}
  reference = seeded("ref_stride2_260k", 0.9767, 0.9736, 0.9763) | {"hash": half.canonical_hash()}
  config = ml_collections.ConfigDict({"search": {"finalist_seeds": 3}})

  def data_for(spec):
    raise AssertionError(f"{spec.name} trained again")
  finals = {finalist.hash: seeded(finalist.spec.name, 0.9733, 0.9742, 0.9727)}
  finals |= full_training.retrain_finalists(config, str(tmp_path), data_for, [challenger],
                                        {reference["hash"]: reference})
  row = finals[challenger.hash]
  assert row["name"] == "compact~3e39bce0" and row["same_net_as"] == "ref_stride2_260k"
  assert row["seeds"] == reference["seeds"]
  assert judging.choose([finalist], finals) is finalist
  assert judging.choose([finalist, challenger], finals) is challenger
  table = presentation.finalist_table([finalist, challenger], finals, challenger, [challenger])
  assert "| compact~3e39bce0 (chosen) (challenger) (= ref_stride2_260k) |" in table
  assert "| compact~58a5fe92 |" in table
  config.search.finalist_seeds = 4
  with pytest.raises(AssertionError, match="trained again"):
    full_training.retrain_finalists(config, str(tmp_path), data_for, [challenger],
                                {reference["hash"]: reference})


def test_challengers_answer_the_references_no_finalist_dominates():

  def cand(spec, aucs):
    return candidates.Candidate(spec, None, "", ops_lib.analyze(spec), aucs=aucs, feasible=True)
  gap = zoo.ref_gap_660k()
  reference = board.board_cost(gap).to_dict() | {"name": "ref_gap_660k", "val_auc": 0.94}
  big = board.board_cost(zoo.compact()).to_dict() | {"name": "compact", "val_auc": 0.98}
  small = cand(zoo.ref_stride2_260k(), [0.96, 0.96])           # 8 ms, flash above the gap net's
  same = cand(gap, [0.95, 0.95])                               # the gap net's own costs
  low_res = cand(zoo.compact().with_input_shape((32, 32, 1)), [0.97, 0.97])   # 7 ms, 45 KB
  assert board.board_cost(small.spec).est_flash_bytes > reference["est_flash_bytes"]
  # compact costs more MACs than the reference: it dominates on neither plane.
  assert judging.dominators(reference, [big]) == {"est_latency_ms_48mhz": [],
                                                    "est_flash_bytes": []}
  # The best short val AUC under each plane's costs: latency -> low_res; flash -> only `same`.
  assert judging.challengers([reference], [big], [small, same, low_res], 2) == [low_res, same]
  assert judging.challengers([reference], [big], [small, same, low_res], 1) == [low_res]
  finished = big | {"macs": 200_000, "est_flash_bytes": 1, "est_latency_ms_48mhz": 1.0}
  assert judging.challengers([reference], [finished], [small, same, low_res], 2) == []
  # One net best on both planes answers both, once; the runner-up on flash is not taken.
  best = cand(gap, [0.99, 0.99])
  smaller = cand(gap.with_input_shape((48, 48, 1)), [0.955, 0.955])   # gap's flash, fewer MACs
  assert judging.challengers([reference], [big], [small, best, smaller, low_res], 4) == [best]
  # Each reference gets its own, in the references' order, up to the count.
  cheap = board.board_cost(low_res.spec).to_dict() | {"name": "low", "val_auc": 0.99}
  assert judging.challengers([cheap, reference], [big], [small, same, low_res], 4) == [
      low_res, same]
  assert judging.challengers([cheap, reference], [big], [small, same, low_res], 0) == []
  # The reference's own net, when the search reached it, comes first even when short training
  # rated another higher; both are trained in full (the first takes the reference's runs).
  own = (board.board_cost(small.spec).to_dict()
         | {"name": "ref_stride2_260k", "val_auc": 0.99, "hash": small.hash})
  assert judging.challengers([own], [big], [same, low_res, small], 4) == [small, low_res]
  assert judging.challengers([own], [big], [same, low_res, small], 1) == [small]


def test_near_ties_are_settled_with_more_seeds_and_only_they():

  def row(name, macs, *vals):
    return {"name": name, "hash": name, "macs": macs, "est_latency_ms_48mhz": macs / 1e5,
            "est_flash_bytes": 30_000, "val_auc": max(vals), "run_base": f"/nowhere/{name}",
            "seeds": [{"val_auc": v} for v in vals]}
  reference = row("ref", 1_330_000, 0.9798, 0.9802, 0.9806)          # mean 0.9802, SE 0.0002
  close = row("root", 960_000, 0.9784, 0.9796, 0.9808)               # 0.9796, SE 0.0007
  far = row("small", 260_000, 0.9700, 0.9710, 0.9720)                # 0.9710: a clear loss
  dearer = row("big", 1_400_000, 0.99, 0.99, 0.99)
  assert judging.near_ties([reference], [far, close, dearer]) == [(reference, close)]
  assert judging.near_ties([reference], [far]) == []
  assert judging.near_ties([reference], [close | {"seeds": [{"val_auc": 0.9810}]}]) == []

  def data_for(spec):
    raise AssertionError(f"{spec.name} trained again")
  # Off, or both sides already with the seeds asked for: nothing is trained.
  assert full_training.settle_near_ties(None, data_for, [reference], [close], 0) == {}
  assert full_training.settle_near_ties(None, data_for, [reference], [close], 3) == {}
  # Asked for more, both sides are trained on where they were trained.
  with pytest.raises(Exception, match="/nowhere/ref"):
    full_training.settle_near_ties(None, data_for, [reference], [close], 5)


def test_the_search_looks_toward_a_reference_no_candidate_fits_under(tmp_path):
  """A reference's plane that best-first's order never reached (here: the pooled net's costs,
  below every net trained) gets one reduction short-trained that fits, past max_candidates;
  a cost nothing reachable meets trains nothing."""
  calls = []
  search = best_first_search(synthetic_trainer(calls), RunStore(str(tmp_path / "t.sqlite")),
                             constraints.Constraints(budget_macs=1_380_000), seeds=(0, 1),
                             max_candidates=3, moves="extended")
  search.run(zoo.compact(), beta=0.9, root_quality=0.97)
  assert len(search.scheduler.trained) == 3 and search.scheduler.out_of_budget()
  gap = board.board_cost(zoo.ref_gap_660k()).to_dict() | {"name": "ref_gap_660k",
                                                          "val_auc": 0.94}
  trained = list(search.scheduler.trained.values())
  assert judging.unanswered([gap], [], trained) == [(gap, "est_latency_ms_48mhz"),
                                                       (gap, "est_flash_bytes")]   # all dearer
  fits = judging.fits_under(gap, "est_flash_bytes")
  found = search.toward(fits, beta=0.9)
  assert found is not None and fits(found) and found.hash in search.scheduler.trained
  assert calls[-2:] == [(found.hash, 0), (found.hash, 1)] and len(found.aucs) == 2
  assert (gap, "est_flash_bytes") not in judging.unanswered([gap], [], list(search.scheduler.trained.values()))
  before = len(calls)
  assert search.toward(lambda cand: cand.cost.macs < 10, beta=0.9) is None
  assert len(calls) == before


def test_a_references_own_net_the_search_holds_but_did_not_train_is_reached(tmp_path):
  """From the deep root, best-first's few turns go near the budget: the compact reference (the
  root's fifth conv removed) and the 0.26 M one (that at width/2) are never trained. An
  undominated reference whose net is not among the candidates is short-trained by looking
  toward it, the compact root first, then its width/2 from it; one dominated, or trained, is
  left alone."""
  calls = []
  search = best_first_search(synthetic_trainer(calls), RunStore(str(tmp_path / "r.sqlite")),
                             constraints.Constraints(budget_macs=1_380_000), seeds=(0,),
                             train_above_budget=1.0, max_candidates=2, moves="fine")
  search.scheduler.evaluate(search.scheduler.make(zoo.deep(), None, "baseline"))
  search.run(zoo.deep(), beta=0.9, root_quality=0.97)

  def reference(spec, auc):
    return board.board_cost(spec).to_dict() | {"name": spec.name, "val_auc": auc,
                                               "hash": spec.canonical_hash()}
  compact, small = reference(zoo.compact(), 0.98), reference(zoo.ref_stride2_260k(), 0.97)
  beaten = reference(zoo.ref_gap_660k(), 0.90)
  rival = board.board_cost(zoo.ref_stride2_260k()).to_dict() | {"name": "rival", "val_auc": 0.95,
                                                                "est_flash_bytes": 20_000}
  trained = list(search.scheduler.trained.values())
  assert not {compact["hash"], small["hash"]} & {cand.hash for cand in trained}
  assert judging.unreached([compact, beaten, small], [rival], trained) == [compact, small]
  for wanted in (compact, small):
    found = search.toward(judging.is_net(wanted), beta=0.9)
    assert found is not None and found.hash == wanted["hash"] and calls[-1] == (found.hash, 0)
  assert judging.unreached([compact, small], [rival], list(search.scheduler.trained.values())) == []
