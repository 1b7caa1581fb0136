"""Merging crowd-sourced labels, as in the report's Mechanical Turk study (its section 3.1).

Input: a CSV with columns `image,rater,answer`, answer one of `yes`, `no` (also `unsure`,
`no_or_unsure`) or `invalid`. Output: one majority-vote label per image.

Rules:
  * an image's `invalid` votes are dropped; if they are at least half of its votes, the image is
    dropped as invalid (the raters say it shows no single person);
  * a tie between yes and no resolves to "not smiling": the report's own answer merged "no" and
    "unsure", so a split vote means the raters were unsure;
  * agreement = share of the image's valid votes that match the merged label.

Noise estimate: with a per-vote error rate e (independent raters), two votes on one image disagree
with probability 2e(1-e); solving that for the observed pairwise disagreement gives e, and the
chance that a majority of n votes is wrong follows from the binomial law (ties counted as errors
half the time). With one vote per image nothing can be estimated, and the fields are None.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re

YES, NO, INVALID = "yes", "no", "invalid"
_ANSWERS = {"yes": YES, "y": YES, "1": YES, "smiling": YES,
            "no": NO, "n": NO, "0": NO, "unsure": NO, "no_or_unsure": NO, "no_unsure": NO,
            "invalid": INVALID, "picture_invalid": INVALID}


@dataclasses.dataclass(frozen=True)
class MergedLabel:
  image: str
  label: int          # 1 = smiling
  yes: int
  no: int
  invalid: int
  agreement: float


@dataclasses.dataclass(frozen=True)
class MergeResult:
  labels: list[MergedLabel]
  dropped_invalid: list[str]
  vote_error_rate: float | None      # estimated chance one rater's vote is wrong
  label_noise_rate: float | None     # estimated share of merged labels that are wrong
  mean_agreement: float


def read_votes(path: str) -> list[tuple[str, str, str]]:
  with open(path, newline="") as file:
    reader = csv.DictReader(file)
    missing = {"image", "rater", "answer"} - set(reader.fieldnames or [])
    if missing:
      raise ValueError(f"{path}: missing column(s) {sorted(missing)}; expected a header "
                       "'image,rater,answer'")
    votes = []
    for line, row in enumerate(reader, start=2):
      answer = _ANSWERS.get(re.sub(r"[^a-z0-9]+", "_", row["answer"].lower()).strip("_"))
      if answer is None:
        raise ValueError(
            f"{path}:{line}: answer {row['answer']!r} is not yes / no / unsure / invalid")
      votes.append((row["image"].strip(), row["rater"].strip(), answer))
  return votes


def _majority_error(vote_error: float, votes: int) -> float:
  wrong = 0.0
  for wrong_votes in range(votes + 1):  # k wrong votes out of n
    prob = math.comb(votes, wrong_votes) * vote_error**wrong_votes * (1 - vote_error)**(
        votes - wrong_votes)
    wrong += prob if 2 * wrong_votes > votes else (0.5 * prob if 2 * wrong_votes == votes else 0.0)
  return wrong


def merge_votes(votes: list[tuple[str, str, str]]) -> MergeResult:
  """Majority-vote labels from (image, rater, answer) triples (answers already normalised)."""
  counts: dict[str, dict[str, int]] = {}
  seen = set()
  for image, rater, answer in votes:
    if (image, rater) in seen:
      raise ValueError(f"rater {rater!r} voted twice on {image!r}; keep one vote per rater")
    seen.add((image, rater))
    counts.setdefault(image, {YES: 0, NO: 0, INVALID: 0})[answer] += 1
  labels, dropped = [], []
  pairs = disagreeing_pairs = 0
  for image in sorted(counts):
    tally = counts[image]
    valid = tally[YES] + tally[NO]
    if tally[INVALID] * 2 >= valid + tally[INVALID]:
      dropped.append(image)
      continue
    label = int(tally[YES] > tally[NO])
    labels.append(MergedLabel(image, label, tally[YES], tally[NO], tally[INVALID],
                              (tally[YES] if label else tally[NO]) / valid))
    pairs += valid * (valid - 1) // 2
    disagreeing_pairs += tally[YES] * tally[NO]
  vote_error = noise = None
  if pairs:
    disagreement = min(disagreeing_pairs / pairs, 0.5)
    vote_error = (1 - math.sqrt(1 - 2 * disagreement)) / 2
    noise = sum(_majority_error(vote_error, l.yes + l.no) for l in labels) / len(labels)
  mean_agreement = sum(l.agreement for l in labels) / len(labels) if labels else float("nan")
  return MergeResult(labels, dropped, vote_error, noise, mean_agreement)


def write_labels(result: MergeResult, path: str) -> None:
  with open(path, "w", newline="") as file:
    writer = csv.writer(file)
    writer.writerow(["image", "label", "yes", "no", "invalid", "agreement"])
    for label in result.labels:
      writer.writerow(
          [label.image, label.label, label.yes, label.no, label.invalid, f"{label.agreement:.3f}"])
