"""The report's figures as PNGs: loss curves (Figure 2), PR curves (Figure 4), ROC curves (Figure
5).

Each function takes plain data (histories, label/score arrays keyed by model name) and a path.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smile_jax.eval import metrics  # noqa: E402


def _save(fig, path: str) -> str:
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def loss_curves(histories: dict[str, list[dict]], path: str) -> str:
  """Train and val cross-entropy per epoch (solid / dashed), one colour per model; val AUC
  beside."""
  fig, (ax, ax_auc) = plt.subplots(1, 2, figsize=(10, 4))
  for index, (name, history) in enumerate(histories.items()):
    epochs = [h["epoch"] for h in history]
    color = f"C{index}"
    ax.plot(epochs, [h["train_loss"] for h in history], color=color, label=f"{name} train")
    ax.plot(epochs, [h["val_loss"] for h in history], color=color, ls="--", label=f"{name} val")
    ax_auc.plot(epochs, [h["val_auc"] for h in history], color=color, label=name)
  ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss (report Figure 2)")
  ax_auc.set(xlabel="epoch", ylabel="val AUC", title="Validation AUC")
  ax.legend(fontsize=7)
  ax_auc.legend(fontsize=7)
  return _save(fig, path)


def _roc(labels, scores):
  fpr, tpr, _ = metrics.roc_curve(labels, scores)
  return fpr, tpr, f"AUC {metrics.roc_auc(labels, scores):.3f}"


def _pr(labels, scores):
  precision, recall, _ = metrics.pr_curve(labels, scores)
  return recall, precision, f"AP {metrics.average_precision(labels, scores):.3f}"


def _curves(curves: dict[str, tuple], path: str, curve, chance, legend_loc: str, **axes) -> str:
  """One panel, a curve per model: `curve(labels, scores)` -> (x, y, label); `chance(ax)` draws
  what a random scorer gets."""
  fig, ax = plt.subplots(figsize=(5, 5))
  for name, (labels, scores) in curves.items():
    x, y, label = curve(labels, scores)
    ax.plot(x, y, label=f"{name} ({label})")
  chance(ax)
  ax.set(**axes)
  ax.legend(fontsize=7, loc=legend_loc)
  return _save(fig, path)


def roc_curves(curves: dict[str, tuple], path: str,
               title: str = "ROC, test set (report Figure 5)") -> str:
  """`curves`: name -> (labels, scores)."""
  return _curves(curves, path, _roc, lambda ax: ax.plot([0, 1], [0, 1], "k:", label="random"),
                 "lower right", xlabel="false positive rate", ylabel="true positive rate",
                 title=title)


def pr_curves(curves: dict[str, tuple], path: str,
              title: str = "Precision-recall, test set (report Figure 4)") -> str:
  def chance(ax):
    if curves:
      ax.axhline(next(iter(curves.values()))[0].mean(), color="k", ls=":", label="random")
  return _curves(curves, path, _pr, chance, "lower left", xlabel="recall", ylabel="precision",
                 ylim=(0, 1.02), title=title)
