r"""Merges crowd-sourced votes into majority-vote labels (the report's MTurk study, section 3.1).

  .venv/bin/python -m experiments.merge_labels --votes=votes.csv --output=labels.csv

votes.csv: `image,rater,answer` with answer yes / no (or unsure) / invalid. Prints the estimated
per-vote error rate and the label noise left after the majority vote.
"""

from absl import flags

from experiments import cli
from smile_jax.data import labels

FLAGS = flags.FLAGS
flags.DEFINE_string("votes", None, "CSV of image,rater,answer.")
flags.DEFINE_string("output", None, "CSV of merged labels to write.")
flags.mark_flags_as_required(["votes", "output"])


def main(argv):
  del argv
  result = labels.merge_votes(labels.read_votes(FLAGS.votes))
  labels.write_labels(result, FLAGS.output)
  print(f"{len(result.labels)} images labelled, {len(result.dropped_invalid)} dropped as invalid; "
        f"mean agreement {result.mean_agreement:.3f}")
  if result.vote_error_rate is None:
    print("one vote per image: the label noise cannot be estimated (ask 3 raters per image)")
  else:
    print(f"estimated per-vote error {result.vote_error_rate:.3f}; label noise after the majority "
          f"vote {result.label_noise_rate:.3f}")


if __name__ == "__main__":
  cli.run(main)
