"""One training run end to end: train, evaluate on val and test, write the run's report.

The single way every stage makes a finished run directory (the train launcher, the main job's
models, the search's finalists, fine-tuning), so all of them hold the same files (see WORKSPACE.md).
"""

from __future__ import annotations

import dataclasses

from smile_jax.eval import evaluate, report
from smile_jax.train import loop


@dataclasses.dataclass
class RunOutcome:
  summary: dict                 # metrics.json content, with the run's directory as `run_dir`
  history: list[dict]           # per epoch: train/val loss, val AUC, seconds
  evals: dict                   # split -> evaluate.SplitEval (labels and scores)


def train_evaluate_report(config,
                          workdir: str,
                          spec=None,
                          data=None,
                          init_variables=None) -> RunOutcome:
  result = loop.train_and_evaluate(
      config, workdir, spec=spec, data=data, init_variables=init_variables)
  summary, evals = evaluate.evaluate_run(result, config, workdir)
  report.write_run_report(workdir, summary, result.history, evals)
  return RunOutcome(summary, result.history, evals)
