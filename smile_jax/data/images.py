"""Reading image files robustly: every failure becomes a `BadImage` that names the file and the fix.

All decoders in the project go through `read_image`, so corrupt, truncated, empty, non-image,
alpha, 16-bit, rotated (EXIF) and tiny files are handled in one place, the same way at build,
predict and demo time. Whether a file is an image is decided by its content, not its name.
"""

from __future__ import annotations

import io
import os
import warnings

import cv2
import numpy as np
import PIL.Image

MIN_SIDE = 16  # Below this a face crop carries no usable detail.
EXIF_ORIENTATION_TAG = 0x0112
# Magic numbers of the formats OpenCV or Pillow decode: a file that starts like one of them but does
# not decode is corrupt; anything else is not an image at all.
_MAGIC = {b"\xff\xd8": "JPEG", b"\x89PNG": "PNG", b"GIF8": "GIF", b"BM": "BMP", b"II*\x00": "TIFF",
          b"MM\x00*": "TIFF", b"RIFF": "WebP", b"P5": "PGM", b"P6": "PPM"}


class BadImage(ValueError):
  """An image file that cannot be used; the message names the file, the reason and the fix."""

  def __init__(self, path: str, reason: str, fix: str):
    super().__init__(f"{path}: {reason} ({fix})")
    self.path, self.reason, self.fix = path, reason, fix


def list_files(folder: str) -> list[str]:
  """Every file under `folder`, recursively, sorted; hidden files and folders are ignored.

  Whether a file is an image is decided by decoding it (`read_image`), never by its extension, so
  a `.GIF`, a `.jpeg` without its extension or a text file named `.jpg` are all treated right.
  """
  paths = []
  for root, dirs, files in os.walk(folder):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    paths += [os.path.join(root, name) for name in sorted(files) if not name.startswith(".")]
  return paths


def _jpeg_is_truncated(data: bytes) -> bool:
  # libjpeg pads a truncated stream with grey and only warns, so look for the end-of-image marker.
  # Cameras and converters may append a few bytes after it, hence the search in the tail.
  return data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-4096:]


def _format_of(data: bytes) -> str | None:
  return next((name for magic, name in _MAGIC.items() if data.startswith(magic)), None)


def _decode_with_pillow(data: bytes) -> np.ndarray | None:
  """Formats or modes OpenCV cannot read (e.g. some palette or CMYK TIFFs), as BGR(A) or gray."""
  try:
    with PIL.Image.open(io.BytesIO(data)) as pil:
      pil.seek(0)   # the first frame of an animation
      if pil.mode in ("I;16", "I;16B", "I"):
        return np.asarray(pil, np.uint16)
      has_alpha = pil.mode in ("RGBA", "LA", "PA") or "transparency" in pil.info
      rgb = np.asarray(pil.convert("RGBA" if has_alpha else "RGB"))
  except Exception:  # noqa: BLE001  Pillow raises many types for undecodable data
    return None
  return rgb[..., [2, 1, 0, 3] if has_alpha else [2, 1, 0]]


def exif_orientation(data: bytes) -> int:
  """The EXIF orientation tag (1..8) of an encoded image; 1 (upright) when absent or unreadable."""
  try:
    with PIL.Image.open(io.BytesIO(data)) as pil:
      value = int(pil.getexif().get(EXIF_ORIENTATION_TAG, 1))
  except Exception:  # noqa: BLE001  a broken EXIF block must not lose an otherwise good image
    return 1
  return value if 1 <= value <= 8 else 1


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
  """Turns stored pixels upright as the EXIF orientation tag asks (the same as Pillow's
  `ImageOps.exif_transpose`): 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise,
  7 transverse, 8 rotate 90 counter-clockwise."""
  ops = {1: lambda a: a, 2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud,
         5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.rot90(a, -1),
         7: lambda a: np.rot90(a, 2).swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}
  return np.ascontiguousarray(ops[orientation](image))


def read_image(path: str, min_side: int = MIN_SIDE) -> np.ndarray:
  """Decodes `path` to a uint8 array, HxW (grayscale) or HxWx3 (BGR), upright.

  Any format OpenCV or Pillow reads (JPEG, PNG, GIF, BMP, TIFF, WebP, PGM/PPM; CMYK, palette,
  gray+alpha, 16-bit), whatever the file's extension. The EXIF orientation is applied, alpha is
  composited over white, 16-bit images are scaled to 8 bits. Raises `BadImage` for an empty,
  unreadable, truncated, non-image or too-small file.
  """
  try:
    with open(path, "rb") as file:
      data = file.read()
  except OSError as e:
    raise BadImage(path, f"cannot be read: {e.strerror}",
                   "check the path and its permissions") from None
  if not data:
    raise BadImage(path, "is an empty (0-byte) file", "re-copy or delete it")
  if _jpeg_is_truncated(data):
    raise BadImage(path, "is a truncated JPEG (no end-of-image marker)", "re-download or delete it")
  image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
  if image is None:
    image = _decode_with_pillow(data)
  if image is None:
    fmt = _format_of(data)
    if fmt:
      raise BadImage(path, f"is not a decodable image (a corrupt {fmt} file)",
                     "replace it with a valid copy or delete it")
    raise BadImage(path, "is not an image file (no image decoder recognises its content)",
                   "move it out of the image folder")
  if image.dtype == np.uint16:
    image = (image / 257.0).round().astype(np.uint8)
  elif image.dtype != np.uint8:
    raise BadImage(path, f"has unsupported pixel type {image.dtype}", "convert it to 8-bit")
  if image.ndim == 3 and image.shape[2] == 4:
    alpha = image[..., 3:].astype(np.float32) / 255.0
    image = (image[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
  elif image.ndim == 3 and image.shape[2] == 2:   # gray + alpha
    alpha = image[..., 1].astype(np.float32) / 255.0
    image = (image[..., 0] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
  elif image.ndim == 3 and image.shape[2] == 1:
    image = image[..., 0]
  image = apply_orientation(image, exif_orientation(data))
  if min(image.shape[:2]) < min_side:
    raise BadImage(path, f"is too small ({image.shape[1]}x{image.shape[0]} px, need >= {min_side})",
                   "use a larger photo or delete it")
  return image


def to_gray(image: np.ndarray) -> np.ndarray:
  return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def read_gray(path: str, min_side: int = MIN_SIDE) -> np.ndarray:
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    return to_gray(read_image(path, min_side))


def usable(folder: str, convert) -> tuple[np.ndarray, list[str]]:
  """`convert(image)` of every usable image under `folder`, stacked, and their paths; files that
  are not usable images are skipped (predict names them). FileNotFoundError when none is."""
  out, paths = [], []
  for path in list_files(folder):
    try:
      out.append(convert(read_image(path)))
      paths.append(path)
    except BadImage:
      continue
  if not out:
    raise FileNotFoundError(f"--images={folder}: no usable image in it")
  return np.stack(out), paths
