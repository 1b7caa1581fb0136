"""Shared fixtures. Two host devices let the pmap path run on a CPU-only machine."""

import json
import os
import subprocess
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from smile_jax.data import sources  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def hand_loops(tmp_path_factory):
  """link(names=()): compile/firmware/common/smile_dsp.S, with the model loops `names`
  (compile/dsp/asm.py) when given, linked at 0x10000 for unicorn; the ELF's path."""
  from compile import firmware
  from compile.dsp import asm as dsp_asm
  directory = tmp_path_factory.mktemp("dsp")
  linked = {}

  def link(names=()) -> str:
    names = tuple(sorted(set(names)))
    if names not in linked:
      elf = str(directory / f"dsp{len(linked)}.elf")
      sources = [os.path.join(firmware.FIRMWARE_DIR, "common", "smile_dsp.S")]
      if names:
        sources.append(str(directory / f"layers{len(linked)}.S"))
        with open(sources[-1], "w") as file:
          file.write(dsp_asm.source(names))
      subprocess.run([firmware.require_tool("arm-none-eabi-gcc"), *firmware.CFLAGS[:4],
                      "-nostdlib", "-Wl,-Ttext=0x10000", "-Wl,--entry=smile_dsp_mac_2x2",
                      f"-I{os.path.join(firmware.FIRMWARE_DIR, 'common')}", *sources, "-o", elf],
                     check=True, capture_output=True)
      linked[names] = elf
    return linked[names]
  return link


@pytest.fixture(scope="session")
def shared_data_dir():
  path = sources.data_dir()
  if not os.path.isdir(os.path.join(path, "SMILEsmileD")):
    pytest.fail(f"the shared datasets are expected at {path} (set ${sources.DATA_DIR_ENV})")
  return path


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds"))


def smoke_command(workdir, tfds_dir, *extra) -> list[str]:
  """`experiments.search` on `configs/search.py:smoke` (2-epoch finalists), with `extra` flags."""
  return [sys.executable, "-m", "experiments.search", "--config=configs/search.py:smoke",
          f"--workdir={workdir}", f"--config.run.data.tfds_dir={tfds_dir}",
          "--config.run.train.epochs=2", *extra]


def kill_once_stored(proc: subprocess.Popen, db_path, count: int = 2) -> None:
  """SIGKILLs a running search once `count` trainings are stored in its run store: mid-search."""
  import signal  # noqa: PLC0415
  import sqlite3  # noqa: PLC0415
  import time  # noqa: PLC0415
  done, deadline = 0, time.time() + 300
  while done < count and time.time() < deadline:
    assert proc.poll() is None, "the search ended before it could be killed"
    time.sleep(0.2)
    if os.path.exists(db_path):
      try:
        done = sqlite3.connect(db_path).execute(
            "SELECT COUNT(*) FROM runs WHERE status='done'").fetchone()[0]
      except sqlite3.OperationalError:
        pass
  proc.send_signal(signal.SIGKILL)
  proc.wait()


@pytest.fixture(scope="session")
def smoke_search(tmp_path_factory, tfds_dir, shared_data_dir):
  """search_summary.json of an uninterrupted smoke search on the local executor: what killed,
  resumed and Ray-driven searches must reproduce."""
  workdir = tmp_path_factory.mktemp("smoke_search")
  subprocess.run(smoke_command(workdir, tfds_dir), cwd=REPO, check=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  return json.loads((workdir / "search_summary.json").read_text())


def face_like(seed: int, size: int = 64, smiling: bool = False) -> np.ndarray:
  """A synthetic grayscale 'face': noise plus a dark mouth bar, wider when smiling."""
  rng = np.random.default_rng(seed)
  image = rng.integers(90, 160, (size, size), dtype=np.uint8)
  half = size // 4 + (size // 8 if smiling else 0)
  image[int(size * 0.7):int(size * 0.78), size // 2 - half:size // 2 + half] = 30
  return image


def write_jpeg(path: str, image: np.ndarray) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  assert cv2.imwrite(path, image)
  return path


def awkward_corpus(folder: str, face_bgr: np.ndarray) -> dict[str, str | None]:
  """Writes one photo of a face in every awkward form a user's folder may hold.

  Returns {path relative to `folder`: None if it must be scored, else a fragment of the reason it
  cannot be}. `upright.jpg` and `exif_rotated.jpg` show the same face (the latter stored sideways
  with EXIF orientation 6), so their scores must agree. An empty sub-folder is made too.
  """
  from PIL import Image  # noqa: PLC0415  (only the corpus needs Pillow directly)

  os.makedirs(os.path.join(folder, "empty_subfolder"), exist_ok=True)
  os.makedirs(os.path.join(folder, "nested"), exist_ok=True)
  rgb = Image.fromarray(face_bgr[..., ::-1].copy())
  gray = rgb.convert("L")
  out = {}

  def save(name, image, fmt=None, **kwargs):
    image.save(os.path.join(folder, name), fmt, **kwargs)
    out[name] = None

  save("upright.jpg", rgb, quality=95)
  exif = Image.Exif()
  exif[0x0112] = 6   # "rotate 90 clockwise to display": the pixels are stored turned left
  save("exif_rotated.jpg", rgb.transpose(Image.Transpose.ROTATE_90), quality=95, exif=exif)
  save("cmyk.jpg", rgb.convert("CMYK"), quality=95)
  save("gray_alpha.png", Image.merge("LA", (gray, Image.new("L", gray.size, 200))))
  save("rgba.png", rgb.convert("RGBA"))
  save("palette.gif", rgb.convert("P", palette=Image.Palette.ADAPTIVE))
  save("image.bmp", rgb)
  save("image.webp", rgb, quality=90)
  save("image.tiff", rgb)
  save("nested/UPPER_CASE.JPG", rgb, "JPEG", quality=95)
  save("photo_4000x3000.jpg", rgb.resize((4000, 3000)), quality=90)
  deep = (np.asarray(gray, np.uint16) * 257)
  cv2.imwrite(os.path.join(folder, "gray16.png"), deep)
  out["gray16.png"] = None
  encoded = cv2.imencode(".jpg", face_bgr)[1].tobytes()
  bad = {"truncated.jpg": (encoded[: len(encoded) // 2], "truncated JPEG"),
         "empty.jpg": (b"", "empty (0-byte)"),
         "notes.jpg": (b"just some text, not a picture\n", "not an image file"),
         "page.png": (b"<!DOCTYPE html><html><body>404</body></html>", "not an image file")}
  for name, (data, reason) in bad.items():
    with open(os.path.join(folder, name), "wb") as file:
      file.write(data)
    out[name] = reason
  return out
