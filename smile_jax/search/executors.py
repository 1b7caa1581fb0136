"""Where a search's candidate trainings run: in this process (`local`) or as Ray tasks (`ray`).

The scheduler (scheduler.py) hands an executor *jobs*: one candidate's architecture and the seeds
to train it with, all of them in one training loop (smile_jax/train/seeds.py). An executor has three
verbs: `submit(spec, seeds)` starts a job (or queues it), `collect(until)` blocks until some job
has finished (the local executor runs `until` then) and returns all that have, and `close()`.
A job's outcome is a list of result dicts (one a seed: val AUC, val loss, seconds) or the
exception it raised. `workers` says how
many jobs may run at once; the search starts the next best-ranked candidates while one trains,
but uses a result only when its best-first order reaches that candidate, so any number of workers
trains and chooses what one worker would (results may arrive in any order).

The driver keeps the one run store: results come back by value (metrics are small), and a Ray
task gets everything it needs with it (the recipe, the spec, the data and the teacher's logits
through Ray's object store), so workers need no shared file system and no access to the workdir.
"""

from __future__ import annotations

import os
import warnings

from smile_jax.models import spec as spec_lib

RAY_MISSING = ("config.search.executor = 'ray' needs Ray, an optional extra: "
               "`.venv/bin/pip install -r requirements-ray.txt` (or set the executor to 'local')")
# A Ray worker's XLA:CPU settings when it may use one core: XLA has no exact thread cap, but these
# keep Eigen's and XLA's intra-op pools to one thread (Ray reserves `threads` CPUs a task).
ONE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def job_key(spec: spec_lib.ModelSpec, seeds) -> tuple:
  return spec.canonical_hash(), tuple(seeds)


class LocalExecutor:
  """Trains each job in this process when the search waits for it (one worker).

  `train(spec, seeds)` trains all seeds of a candidate and returns a result per seed."""

  workers = 1

  def __init__(self, train):
    self.train = train
    self._queued: dict[tuple, tuple] = {}

  def submit(self, spec: spec_lib.ModelSpec, seeds) -> None:
    self._queued[job_key(spec, seeds)] = (spec, tuple(seeds))

  def collect(self, until: tuple | None = None) -> list[tuple]:
    if until is None:
      return []
    spec, seeds = self._queued.pop(until)
    try:
      outcome = self.train(spec, seeds)
    except Exception as e:  # noqa: BLE001 - the search records it as the job's failure
      outcome = e
    return [(until, outcome)]

  def close(self) -> None:
    self._queued.clear()


def check_ray():
  """Ray, or a clear ImportError saying how to install it."""
  try:
    import ray  # noqa: PLC0415 - an optional extra
  except ImportError:
    raise ImportError(RAY_MISSING) from None
  return ray


def train_job(recipe, spec_json: str, seeds, data, teacher_logits) -> list[dict]:
  """What a Ray task runs: `seeds_lib.train_seeds` on the data fitted to the spec's input."""
  from smile_jax.data import run_data  # noqa: PLC0415 - imported in the worker, not the driver
  from smile_jax.train import seeds as seeds_lib  # noqa: PLC0415
  spec = spec_lib.ModelSpec.from_json(spec_json)
  if tuple(data.train.images.shape[1:]) != tuple(spec.input_shape):
    data = run_data.fit_to(data, spec.input_shape)
  return seeds_lib.train_seeds(recipe, spec, tuple(seeds), data, teacher_logits=teacher_logits)


class RayExecutor:
  """Jobs as Ray tasks, `workers` at a time, each on `threads` CPUs of a node.

  `address`: '' starts a local Ray on this machine (shut down by `close`); 'auto' or
  'host:port' joins a running cluster (`ray start --head` ...; WORKSPACE.md). `threads` 0: the
  smallest node's CPUs // workers, at least 1, so that workers x threads <= cores of each node
  when the workers share one node."""

  def __init__(self, recipe, data, teacher_logits, *, address: str, workers: int, threads: int):
    ray = check_ray()
    self.ray, self.workers = ray, workers
    self._started = not ray.is_initialized()
    if self._started:
      with warnings.catch_warnings():   # JAX warns of any fork; Ray's are fork + exec
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                 configure_logging=False,
                 **({} if address else {"num_cpus": os.cpu_count()}))
    node_cpus = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]]
    self.threads = threads or max(1, int(min(node_cpus, default=1)) // workers)
    env = {"XLA_FLAGS": ONE_THREAD_XLA_FLAGS if self.threads == 1 else ""}
    self._task = ray.remote(num_cpus=self.threads,
                            runtime_env={"env_vars": env})(train_job)
    self._recipe = recipe
    self._data = ray.put(data)                 # sent once, shared by every task on a node
    self._teacher = ray.put(teacher_logits)
    self._refs: dict[tuple, object] = {}

  def submit(self, spec: spec_lib.ModelSpec, seeds) -> None:
    key = job_key(spec, seeds)
    if key not in self._refs:
      self._refs[key] = self._task.remote(self._recipe, spec.to_json(None), tuple(seeds),
                                          self._data, self._teacher)

  def collect(self, until: tuple | None = None) -> list[tuple]:
    keys = {ref: key for key, ref in self._refs.items()}
    if not keys:
      return []
    if until is not None:    # any job's end frees a worker the search may refill
      self.ray.wait(list(keys), num_returns=1)
    ready, _ = self.ray.wait(list(keys), num_returns=len(keys), timeout=0)
    out = []
    for ref in ready:
      key = keys[ref]
      del self._refs[key]
      try:
        out.append((key, self.ray.get(ref)))
      except self.ray.exceptions.RayTaskError as e:   # the training's own exception
        out.append((key, e.as_instanceof_cause()))
      except Exception as e:  # noqa: BLE001 - a lost worker or node: that job failed
        out.append((key, e))
    return out

  def close(self) -> None:
    for ref in self._refs.values():
      self.ray.cancel(ref, force=True)
    self._refs.clear()
    if self._started and self.ray.is_initialized():
      self.ray.shutdown()
