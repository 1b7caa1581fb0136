"""Parity of a compiled model with its reference, and the layer where it first breaks.

int8 builds must be bit-exact with the integer reference (`quantize.run_int`), float builds within
`FLOAT_TOLERANCE` of JAX. When they are not, `first_divergence` runs the failing image through the
firmware in unicorn, reads every kernel's output the moment it returns, and compares it with the
reference's activation after the layers that kernel computes: the first kernel whose output
differs names the layer to look at.
"""

from __future__ import annotations

import numpy as np

from compile import graph as graph_lib, profile, quantize

FLOAT_TOLERANCE = 1e-4   # absolute, on logits; float32 on the M4 vs XLA differ by ~1e-6


class ParityError(RuntimeError):
  """A compiled model whose outputs differ from its reference; the message names the layer."""


def tolerance(dtype: str) -> float:
  return 0.0 if dtype == "int8" else FLOAT_TOLERANCE


def _reference_activations(built, image: np.ndarray) -> tuple[np.ndarray, list]:
  """(the input as the model sees it, the activation after each graph op) for one image."""
  if built.dtype == "int8":
    return quantize.input_int16(image[None]), list(
        quantize.int_activations(built.model, image[None]))
  model_input = graph_lib.normalize(image[None])
  return model_input, list(graph_lib.float_activations(built.model, model_input))


def first_divergence(built, covered: dict, elf_path: str, image: np.ndarray) -> str:
  """Where the firmware's computation of `image` first leaves the reference, in words.

  `built`: a `build.Built`; `covered`: its kernel -> graph ops map (`build.kernel_layers`).
  """
  program, plan = built.program, built.plan
  calls = [c for c in program.calls if not c.is_reshape]
  watch = {c.kernel: ("arena", plan.placements[c.out.name].offset, c.out.nbytes)
           for c in calls if c.out.name in plan.placements}
  outputs = int(np.prod(program.calls[-1].out.shape[1:]))
  run = profile.profile_elf(elf_path, image, built.logit_dtype, outputs, watch)
  model_input, activations = _reference_activations(built, image)
  position = {id(op): i for i, op in enumerate(built.graph.ops)}   # ops hold arrays: no ==
  for call in calls:
    layers = covered[call.kernel]
    expected = activations[position[id(layers[-1])]] if layers else model_input
    if call.kernel in run.outputs:
      got = np.frombuffer(run.outputs[call.kernel], call.out.dtype)
    else:   # the last kernel writes the caller's logits buffer
      got = run.logits
    expected = np.asarray(expected).reshape(-1)
    names = " + ".join(f"{built.graph.spec.layers[op.layer].type}_{op.layer}" for op in layers)
    if got.size != expected.size:
      return (f"kernel {call.kernel} ({names or 'input conversion'}) wrote {got.size} values where "
              f"the reference has {expected.size}: the kernel-to-layer map is off")
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    # Float activations inside the net can be large: their tolerance scales with them.
    allowed = tolerance(built.dtype) * max(1.0, float(np.abs(expected).max(initial=0.0)))
    if diff.max(initial=0.0) > allowed:
      where = int(diff.argmax())
      return (f"kernel {call.kernel} ({names or 'input conversion'}): max |difference| "
              f"{diff.max():.4g} at element {where} of {diff.size} (firmware {got[where]}, "
              f"reference {expected[where]})")
  return "no kernel output differs (the difference appears after the last kernel)"


def check(built, covered: dict, elf_path: str, images: np.ndarray, logits: np.ndarray,
          reference: np.ndarray, label: str) -> float:
  """The max |firmware - reference| over `images`; raises ParityError naming the first divergent
  layer when it exceeds the build's tolerance."""
  reference = np.asarray(reference, np.float64).reshape(len(images), -1)   # a map: flat, as written
  diff = np.abs(np.asarray(logits, np.float64) - reference).max(axis=-1)
  worst = float(diff.max())
  if worst > tolerance(built.dtype):
    first = int(np.flatnonzero(diff > tolerance(built.dtype))[0])
    raise ParityError(
        f"{label}: the {built.dtype} firmware's logits differ from the "
        f"{'integer reference' if built.dtype == 'int8' else 'JAX model'} by {worst:.4g} "
        f"(allowed {tolerance(built.dtype):g}); on image {first} the first divergent layer is "
        f"{first_divergence(built, covered, elf_path, images[first])}. The firmware and its "
        f"sources are in {built.directory}; fix the kernel named, or report the spec with this "
        "message")
  return worst
