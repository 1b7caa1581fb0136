"""One training run end to end: train, evaluate on val and test, write the run's report.

The single way every stage makes a finished run directory (the train launcher, the main job's
models, the search's finalists), so all of them hold the same files (see WORKSPACE.md).
"""

from __future__ import annotations

from smile_jax.eval import evaluate, report
from smile_jax.train import loop


def train_evaluate_report(config, workdir: str, spec=None, data=None, init_variables=None) -> dict:
  """Returns the run's metrics.json content (with `run_dir`)."""
  result = loop.train_and_evaluate(config, workdir, spec=spec, data=data, init_variables=init_variables)
  summary = evaluate.evaluate_run(result, config, workdir)
  report.write_run_report(workdir)
  return summary
