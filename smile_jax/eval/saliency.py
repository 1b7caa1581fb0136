"""Why the net decides: gradient saliency of the smiling score, and where on the face it falls.

The score is the logit difference s(x) = logit_smiling - logit_not (monotone in the probability).
Maps are |d s / d x| summed over channels, per pixel, for uint8 images normalised as in training:
  * `vanilla`: the gradient itself (the report's section 5.1 method);
  * `smoothgrad`: the mean gradient over `samples` noisy copies (Smilkov et al. 2017, sigma as a
    fraction of the input range);
  * `integrated`: integrated gradients from a black image (Sundararajan et al. 2017), Riemann
    sum over `steps`, so the map sums to s(x) - s(baseline).
All are jitted and vmapped over the batch.

The report claims the net looks at the cheeks more than at the lips; `region_shares` makes that a
number with SMILEsmileD's mouth boxes: the share of saliency mass inside the mouth box, inside the
two cheek boxes (the mouth box's size, beside it, left and right, clipped to the image), and
elsewhere.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smile_jax.models import net as net_lib  # noqa: E402

METHODS = ("vanilla", "smoothgrad", "integrated")


def _score_fn(apply_fn, variables):
  def score(image):   # one float image (H, W, C) in [-1, 1]
    logits = apply_fn(variables, image[None], train=False)[0]
    return logits[1] - logits[0]
  return score


@functools.partial(jax.jit, static_argnames=("apply_fn", "method", "samples", "steps"))
def _maps(apply_fn, variables, images, key, method: str, samples: int, steps: int, sigma: float):
  grad = jax.grad(_score_fn(apply_fn, variables))
  if method == "vanilla":
    grads = jax.vmap(grad)(images)
  elif method == "smoothgrad":
    noise = sigma * 2.0 * jax.random.normal(key, (samples, *images.shape))   # the input spans 2.0
    grads = jnp.mean(jax.vmap(lambda n: jax.vmap(grad)(images + n))(noise), axis=0)
  elif method == "integrated":
    baseline = -jnp.ones_like(images)                                        # a black image
    alphas = (jnp.arange(steps) + 0.5) / steps
    path = jax.vmap(lambda a: jax.vmap(grad)(baseline + a * (images - baseline)))(alphas)
    grads = jnp.mean(path, axis=0) * (images - baseline)
  else:
    raise ValueError(f"unknown saliency method {method!r}; choose from {METHODS}")
  return grads


def saliency(apply_fn,
             variables,
             images: np.ndarray,
             method: str = "vanilla",
             *,
             samples: int = 16,
             steps: int = 16,
             sigma: float = 0.1,
             seed: int = 0,
             batch_size: int = 64) -> np.ndarray:
  """Saliency maps (N, H, W): |attribution| summed over channels, for uint8 images (N, H, W, C)."""
  out = []
  for start in range(0, len(images), batch_size):
    inputs = net_lib.normalize_pixels(images[start:start + batch_size])
    grads = _maps(apply_fn, variables, inputs, jax.random.key(seed + start), method, samples, steps,
                  sigma)
    out.append(np.asarray(jnp.abs(grads).sum(axis=-1)))
  return np.concatenate(out) if out else np.zeros((0, *images.shape[1:3]), np.float32)


def region_masks(mouth_box, shape) -> dict[str, np.ndarray]:
  """Boolean masks of the mouth box (x, y, w, h), the two cheek boxes beside it, and the rest."""
  height, width = shape
  box_x, box_y, bw, bh = (int(v) for v in mouth_box)
  masks = {name: np.zeros((height, width), bool) for name in ("mouth", "cheeks")}
  masks["mouth"][max(box_y, 0):box_y + bh, max(box_x, 0):box_x + bw] = True
  for cx in (box_x - bw, box_x + bw):
    masks["cheeks"][max(box_y, 0):box_y + bh, max(cx, 0):max(cx + bw, 0)] = True
  masks["cheeks"] &= ~masks["mouth"]
  masks["elsewhere"] = ~(masks["mouth"] | masks["cheeks"])
  return masks


def region_shares(maps: np.ndarray,
                  mouth_boxes: np.ndarray,
                  bootstrap: int = 1000,
                  seed: int = 0) -> dict:
  """Mean share of saliency mass per region over images, with a 95% bootstrap CI, and the regions'
  mean share of the image area (what a uniform map would give)."""
  shares = {k: [] for k in ("mouth", "cheeks", "elsewhere")}
  area = {k: [] for k in shares}
  for saliency_map, box in zip(maps, mouth_boxes):
    total = float(saliency_map.sum()) or 1.0
    for name, mask in region_masks(box, saliency_map.shape).items():
      shares[name].append(float(saliency_map[mask].sum()) / total)
      area[name].append(float(mask.mean()))
  rng = np.random.default_rng(seed)
  out = {}
  for name, values in shares.items():
    share_values = np.asarray(values)
    boots = [
        share_values[rng.integers(0, len(share_values), len(share_values))].mean()
        for _ in range(bootstrap)
    ] if len(share_values) else [np.nan]
    out[name] = {"share": float(share_values.mean()) if len(share_values) else float("nan"),
                 "ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
                 "area": float(np.mean(area[name])) if len(share_values) else float("nan")}
  out["n"] = len(maps)
  return out


def figure(images: np.ndarray, maps_by_method: dict[str, np.ndarray], titles: list[str], path: str,
           boxes: np.ndarray | None = None) -> str:
  """Report Figure 6: faces (top row) and each method's heat map over them (one row per method)."""
  count = len(images)
  rows = 1 + len(maps_by_method)
  fig, axes = plt.subplots(rows, count, figsize=(1.6 * count, 1.7 * rows), squeeze=False)
  for col in range(count):
    axes[0, col].imshow(images[col, ..., 0], cmap="gray", vmin=0, vmax=255)
    axes[0, col].set_title(titles[col], fontsize=7)
    for row, (method, maps) in enumerate(maps_by_method.items(), start=1):
      axes[row, col].imshow(images[col, ..., 0], cmap="gray", vmin=0, vmax=255)
      scaled = maps[col] / (np.percentile(maps[col], 99) or 1.0)
      axes[row, col].imshow(np.clip(scaled, 0, 1), cmap="inferno", alpha=0.6)
      if boxes is not None and boxes[col][0] >= 0:
        box_x, box_y, box_w, box_h = boxes[col]
        axes[row, col].add_patch(
            plt.Rectangle((box_x - 0.5, box_y - 0.5), box_w, box_h, fill=False, ec="cyan", lw=0.8))
      if col == 0:
        axes[row, col].set_ylabel(method, fontsize=8)
  for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
  fig.suptitle(
      "Saliency of the smiling score (report Figure 6); cyan: SMILEsmileD mouth box", fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def correct_smiles(labels, scores, threshold: float) -> np.ndarray:
  """Indices of correctly classified smiling images (the report's population for its claim)."""
  return np.flatnonzero((np.asarray(labels) == 1) & (np.asarray(scores) >= threshold))
