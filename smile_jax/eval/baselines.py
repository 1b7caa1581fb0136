"""Non-neural baselines scored on the same split as the nets (report sections 2.1 and 4.3).

  * `white_pixels`: the report's "count white pixels": mean brightness of the lower half of the
  face.
  * `haar_smile`: OpenCV's Viola-Jones smile cascade (`haarcascade_smile.xml`).
  * `smiled_NN`: SMILEsmileD's own cascades (`smileD/smiled_0N.xml`), likely trained on this data.

A cascade's score is the largest neighbour count among its detections centred in the lower half
of the face crop (upscaled x2, so the cascade's 20-40 px windows fit a 64 px face); 0 if none.
Scores are used for AUC as they are; accuracy etc. are taken at a threshold chosen on val.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from tqdm import tqdm

from smile_jax.data import faces

UPSCALE = 2
SCALE_FACTOR = 1.1


def white_pixels(images: np.ndarray) -> np.ndarray:
  height = images.shape[1]
  return images[:, height // 2:].reshape(len(images), -1).mean(axis=1) / 255.0


def cascade_scores(cascade_path: str, images: np.ndarray, desc: str = "cascade") -> np.ndarray:
  clf = faces.cascade(cascade_path)
  scores = np.zeros(len(images), np.float32)
  for index, image in enumerate(tqdm(images, desc=desc, unit="img", leave=False, mininterval=1.0)):
    big = cv2.resize(image[..., 0], None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_LINEAR)
    rects, neighbours = clf.detectMultiScale2(big, scaleFactor=SCALE_FACTOR, minNeighbors=1)
    half = big.shape[0] / 2
    for (rect_x, rect_y, rect_w, rect_h), neighbour_count in zip(rects, neighbours):
      if rect_y + rect_h / 2 > half:
        scores[index] = max(scores[index], float(neighbour_count))
  return scores


def available(names, smiled_dir: str) -> dict[str, callable]:
  """name -> scoring function (images -> scores) for the baselines in `names` that exist here."""
  out = {}
  for name in names:
    if name == "white_pixels":
      out[name] = white_pixels
    elif name == "haar_smile":
      out[name] = lambda ims, n=name: cascade_scores(
          cv2.data.haarcascades + "haarcascade_smile.xml", ims, n)
    elif name.startswith("smiled_"):
      path = os.path.join(smiled_dir, f"{name}.xml")
      if os.path.exists(path):
        out[name] = lambda ims, p=path, n=name: cascade_scores(p, ims, n)
    else:
      raise ValueError(f"unknown baseline {name!r}: use white_pixels, haar_smile or smiled_01..05")
  return out
