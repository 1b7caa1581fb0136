"""Where the net fails: galleries of its worst mistakes and a list of suspected label errors.

  * `gallery`: report Figures 7 and 8, the highest-scoring false positives and the lowest-scoring
    false negatives of a split, each with its score.
  * `suspected_label_errors`: images where a confident model disagrees with the label. They are
    written in the vote format `experiments.merge_labels` reads (`image,rater,answer`), one row
    for the dataset's label and one for the model's answer (with its score in an extra column),
    so a user can send the images to raters again and merge the new votes with these.
"""

from __future__ import annotations

import csv

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def worst(labels, probs, kind: str, count: int) -> np.ndarray:
  """Indices of the k most confident mistakes: 'fp' (label 0, highest score) or 'fn' (label 1,
  lowest)."""
  labels, probs = np.asarray(labels), np.asarray(probs)
  if kind == "fp":
    idx = np.flatnonzero((labels == 0) & (probs >= 0.5))
    return idx[np.argsort(-probs[idx], kind="stable")][:count]
  if kind == "fn":
    idx = np.flatnonzero((labels == 1) & (probs < 0.5))
    return idx[np.argsort(probs[idx], kind="stable")][:count]
  raise ValueError(f"kind must be 'fp' or 'fn', got {kind!r}")


def gallery(images, probs, keys, idx, title: str, path: str, cols: int = 6) -> str:
  count = max(len(idx), 1)
  rows = -(-count // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 1.9 * rows), squeeze=False)
  for ax in axes.ravel():
    ax.axis("off")
  for ax, index in zip(axes.ravel(), idx):
    ax.imshow(images[index, ..., 0], cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"p={probs[index]:.2f}\n{str(keys[index])[-18:]}", fontsize=6)
  if not len(idx):
    axes[0, 0].text(0.0, 0.5, "none", fontsize=9)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def suspected_label_errors(keys, labels, probs, model: str, confidence: float = 0.9) -> list[dict]:
  """Images whose label the model contradicts with probability >= `confidence`, most confident
  first."""
  labels, probs = np.asarray(labels), np.asarray(probs)
  disagree = np.flatnonzero(((labels == 0) & (probs >= confidence))
                            | ((labels == 1) & (probs <= 1 - confidence)))
  disagree = disagree[np.argsort(-np.abs(probs[disagree] - 0.5), kind="stable")]
  return [{"image": str(keys[i]), "label": int(labels[i]), "score": float(probs[i]), "model": model}
          for i in disagree]


def write_votes_csv(rows: list[dict], path: str) -> None:
  """`image,rater,answer,score`: the dataset's label and the model's answer as two votes each."""
  with open(path, "w", newline="") as file:
    writer = csv.writer(file)
    writer.writerow(["image", "rater", "answer", "score"])
    for row in rows:
      writer.writerow([row["image"], "dataset_label", "yes" if row["label"] else "no", ""])
      writer.writerow([
          row["image"], f"model:{row['model']}", "yes" if row["score"] >= 0.5 else "no",
          f"{row['score']:.4f}"
      ])
