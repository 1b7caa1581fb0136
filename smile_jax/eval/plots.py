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


def roc_curves(curves: dict[str, tuple],
               path: str,
               title: str = "ROC, test set (report Figure 5)") -> str:
  """`curves`: name -> (labels, scores)."""
  fig, ax = plt.subplots(figsize=(5, 5))
  for name, (labels, scores) in curves.items():
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    ax.plot(fpr, tpr, label=f"{name} (AUC {metrics.roc_auc(labels, scores):.3f})")
  ax.plot([0, 1], [0, 1], "k:", label="random")
  ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
  ax.legend(fontsize=7, loc="lower right")
  return _save(fig, path)


def pr_curves(curves: dict[str, tuple],
              path: str,
              title: str = "Precision-recall, test set (report Figure 4)") -> str:
  fig, ax = plt.subplots(figsize=(5, 5))
  for name, (labels, scores) in curves.items():
    precision, recall, _ = metrics.pr_curve(labels, scores)
    ax.plot(recall, precision, label=f"{name} (AP {metrics.average_precision(labels, scores):.3f})")
  if curves:
    labels = next(iter(curves.values()))[0]
    ax.axhline(labels.mean(), color="k", ls=":", label="random")
  ax.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02), title=title)
  ax.legend(fontsize=7, loc="lower left")
  return _save(fig, path)
