"""Search executors: several workers train and choose what one does; the search on Ray.

The first test drives best-first with a thread-pool executor whose jobs finish in random order, so
the ordering logic of scheduler.py and best_first.py is checked exactly (synthetic quality, no training). The Ray
tests run the real smoke search on a local Ray with 2 workers against the local executor, and
kill a Ray-driven search mid-way and resume it.
"""

import concurrent.futures
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from smile_jax.models import zoo
from smile_jax.search import candidates, constraints, executors
from smile_jax.search.store import RunStore
from tests.conftest import REPO, kill_once_stored, smoke_command
from tests.test_search import best_first_search, synthetic_trainer


class ThreadExecutor:
  """The executor protocol on a thread pool; each job sleeps a random while, so jobs finish out
  of the order they were started in."""

  def __init__(self, train, workers: int):
    self.train, self.workers = train, workers
    self.pool = concurrent.futures.ThreadPoolExecutor(workers)
    self.futures, self.running, self.peak = {}, 0, 0
    self.lock, self.rng = threading.Lock(), random.Random(0)

  def _run(self, spec, seeds, delay):
    with self.lock:
      self.running += 1
      self.peak = max(self.peak, self.running)
    time.sleep(delay)
    with self.lock:
      self.running -= 1
    return self.train(spec, seeds)

  def submit(self, spec, seeds):
    key = executors.job_key(spec, seeds)
    self.futures[key] = self.pool.submit(self._run, spec, seeds, self.rng.uniform(0.05, 0.2))

  def collect(self, until=None):
    if until is not None and self.futures:
      concurrent.futures.wait(self.futures.values(),
                              return_when=concurrent.futures.FIRST_COMPLETED)
    done = [key for key, future in self.futures.items() if future.done()]
    return [(key, self.futures.pop(key).result()) for key in done]

  def close(self):
    self.pool.shutdown()


def test_parallel_best_first_trains_and_chooses_what_one_worker_does(tmp_path):
  kwargs = dict(seeds=(0, 1, 2), margin=1.0, max_candidates=10)
  beta = constraints.quality_cutoff(0.97, 0.8)
  runs = {}
  for name, workers in (("local", 0), ("threads", 3)):
    calls = []
    trainer = synthetic_trainer(calls)
    executor = (executors.LocalExecutor(trainer) if not workers
                else ThreadExecutor(trainer, workers))
    search = best_first_search(executor, RunStore(str(tmp_path / f"{name}.sqlite")),
                               constraints.Constraints(budget_macs=600_000), **kwargs)
    trained = search.run(zoo.embedded(), beta, root_quality=0.97)
    runs[name] = (trained, calls, search, executor)
  (local, local_calls, _, _), (parallel, calls, search, executor) = runs["local"], runs["threads"]
  assert executor.peak >= 2                       # jobs really ran at the same time
  assert [c.hash for c in parallel] == [c.hash for c in local]    # the same order, committed
  assert [c.aucs for c in parallel] == [c.aucs for c in local]
  assert candidates.one_se_choice(parallel)[0].hash == candidates.one_se_choice(local)[0].hash
  # Started ahead but never reached: at most workers - 1 candidates' worth of extra trainings,
  # all stored (a resume reuses them), none twice.
  assert len(local_calls) <= len(calls) <= len(local_calls) + 2 * 3
  assert len(set(calls)) == len(calls) == search.scheduler.trainings
  stored = RunStore(str(tmp_path / "threads.sqlite")).all()
  assert len(stored) == len(calls) and all(row["status"] == "done" for row in stored)


def test_local_executor_reports_a_failed_job_as_its_outcome():
  def train(spec, seeds):
    raise RuntimeError("out of memory")
  executor = executors.LocalExecutor(train)
  spec = zoo.embedded()
  executor.submit(spec, (0,))
  [(key, outcome)] = executor.collect(executors.job_key(spec, (0,)))
  assert key == executors.job_key(spec, (0,)) and isinstance(outcome, RuntimeError)


def test_ray_executor_missing_ray_is_a_clear_error(monkeypatch, tmp_path):
  from configs import search as search_config
  from smile_jax.search import runner
  monkeypatch.setitem(sys.modules, "ray", None)    # as if not installed
  config = search_config.get_config("smoke")
  config.search.executor = "ray"
  config.run.data.tfds_dir = str(tmp_path / "never-built")
  with pytest.raises(ImportError, match="requirements-ray.txt"):
    runner.run_search(config, str(tmp_path / "w"))
  assert not (tmp_path / "never-built").exists()     # refused before any data work


RAY = ("--config.search.executor=ray", "--config.search.workers=2")


def same_search(got: dict, want: dict) -> None:
  assert got["chosen"]["hash"] == want["chosen"]["hash"]
  assert [f["hash"] for f in got["front"]] == [f["hash"] for f in want["front"]]
  for mine, theirs in zip(got["front"], want["front"]):
    assert mine["short_val_aucs"] == pytest.approx(theirs["short_val_aucs"], abs=1e-4)


def test_smoke_search_on_ray_matches_the_local_executor(tmp_path, tfds_dir, smoke_search):
  pytest.importorskip("ray", reason="the Ray extra: pip install -r requirements-ray.txt")
  subprocess.run(smoke_command(tmp_path, tfds_dir, *RAY), cwd=REPO, check=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  on_ray = json.loads((tmp_path / "search_summary.json").read_text())
  same_search(on_ray, smoke_search)
  assert on_ray["candidates_trained"] == smoke_search["candidates_trained"]


def test_killed_ray_search_resumes_without_retraining(tmp_path, tfds_dir, smoke_search):
  pytest.importorskip("ray", reason="the Ray extra: pip install -r requirements-ray.txt")
  cmd = smoke_command(tmp_path, tfds_dir, *RAY)
  proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
  db_path = tmp_path / "runs.sqlite"
  kill_once_stored(proc, db_path)     # the driver only: its local Ray is left to clean up itself
  assert not (tmp_path / "search_summary.json").exists()
  finished = "SELECT hash, seed, finished_at FROM runs WHERE status='done'"
  before = {(h, s): t for h, s, t in sqlite3.connect(db_path).execute(finished)}
  subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  resumed = json.loads((tmp_path / "search_summary.json").read_text())
  same_search(resumed, smoke_search)
  after = {(h, s): t for h, s, t in sqlite3.connect(db_path).execute(finished)}
  assert len(before) >= 2 and all(after[key] == t for key, t in before.items())  # none retrained
  assert resumed["trainings_run"] <= len(after) - len(before)
  try:   # whatever of the killed driver's Ray is left (nothing, when Ray cleaned up)
    os.killpg(proc.pid, signal.SIGKILL)
  except ProcessLookupError:
    pass
