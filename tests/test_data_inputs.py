"""Bad input at build time: every bad file is skipped, counted and named; bad folders fail
clearly."""

import glob
import json
import os

import cv2
import numpy as np
import pytest

from smile_jax.data import builders, faces, images, sources
from tests.conftest import awkward_corpus, face_like, write_jpeg


def _bad_files(folder):
  """One of each bad case; returns {file name: expected reason fragment}."""
  good = cv2.imencode(".jpg", face_like(0, 80))[1].tobytes()
  with open(os.path.join(folder, "truncated.jpg"), "wb") as file:
    file.write(good[: len(good) // 2])
  open(os.path.join(folder, "empty.jpg"), "wb").close()
  with open(os.path.join(folder, "corrupt.jpg"), "wb") as file:
    file.write(b"\xff\xd8\xff\xe0 this is not really a jpeg" + b"\x00" * 50 + b"\xff\xd9")
  with open(os.path.join(folder, "notes.txt"), "w") as file:
    file.write("not an image")
  cv2.imwrite(os.path.join(folder, "tiny.png"), np.zeros((8, 8), np.uint8))
  return {"truncated.jpg": "truncated JPEG", "empty.jpg": "empty (0-byte)",
          "corrupt.jpg": "not a decodable image", "notes.txt": "not an image file",
          "tiny.png": "too small"}


def test_read_image_handles_alpha_and_16_bit(tmp_path):
  rgba = np.zeros((40, 40, 4), np.uint8)
  rgba[..., 3] = 0  # fully transparent -> white
  cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
  assert images.read_gray(str(tmp_path / "alpha.png")).min() == 255
  deep = (np.arange(40 * 40, dtype=np.uint16).reshape(40, 40) * 40)
  cv2.imwrite(str(tmp_path / "deep.png"), deep)
  out = images.read_gray(str(tmp_path / "deep.png"))
  assert out.dtype == np.uint8 and out.max() == round(deep.max() / 257)
  with pytest.raises(images.BadImage, match="cannot be read.*check the path"):
    images.read_image(str(tmp_path / "missing.jpg"))


def test_class_folder_build_skips_and_names_bad_files(tmp_path, tfds_dir):
  root = tmp_path / "photos"
  for index in range(6):
    write_jpeg(str(root / "smile" / f"s{index}.jpg"), face_like(index, 96, smiling=True))
    write_jpeg(str(root / "not_smile" / f"n{index}.jpg"), face_like(100 + index, 96))
  rgba = np.dstack([face_like(7, 96)] * 3 + [np.full((96, 96), 255, np.uint8)])
  cv2.imwrite(str(root / "smile" / "alpha.png"), rgba)
  cv2.imwrite(str(root / "smile" / "deep.png"), face_like(8, 96).astype(np.uint16) * 257)
  expected = _bad_files(str(root / "not_smile"))
  ds = builders.build(str(root), tfds_dir)
  assert len(ds.labels) == 14 and ds.labels.sum() == 8 and ds.images.shape[1:] == (64, 64, 1)
  skipped = {os.path.basename(s["path"]): s["reason"] for s in ds.summary["skipped"]}
  assert sorted(skipped) == sorted(expected)
  for name, fragment in expected.items():
    assert fragment in skipped[name]
  assert ds.summary["files_seen"] == 14 + len(expected)
  assert not ds.face_found.any() and ds.summary["face_detection_rate"] == 0.0  # no real faces here
  summary_files = glob.glob(os.path.join(tfds_dir, "face_folder", "*", "*", builders.SUMMARY_FILE))
  with open(summary_files[0]) as file:
    assert json.load(file)["examples"] == 14


def test_builder_reads_an_awkward_folder_by_content(tmp_path, tfds_dir):
  root = tmp_path / "photos"
  face = cv2.cvtColor(face_like(3, 120, smiling=True), cv2.COLOR_GRAY2BGR)
  expected = awkward_corpus(str(root / "smile"), face)
  for index in range(4):
    write_jpeg(str(root / "not_smile" / f"n{index}.jpg"), face_like(200 + index, 96))
  ds = builders.build(str(root), tfds_dir)
  skipped = {os.path.relpath(s["path"], root / "smile"): s["reason"] for s in ds.summary["skipped"]}
  assert sorted(skipped) == sorted(k for k, v in expected.items() if v)
  for name, reason in skipped.items():
    assert expected[name] in reason
  assert ds.summary["files_seen"] == len(expected) + 4
  assert len(ds.labels) == sum(v is None for v in expected.values()) + 4


def test_exif_orientation_matches_pillow(tmp_path):
  from PIL import Image, ImageOps
  pixels = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
  for orientation in range(1, 9):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = str(tmp_path / f"o{orientation}.png")
    Image.fromarray(pixels).save(path, exif=exif)
    with Image.open(path) as pil:
      upright = np.asarray(ImageOps.exif_transpose(pil))[..., ::-1]   # RGB -> BGR
    np.testing.assert_array_equal(
        images.read_image(path), upright, err_msg=f"orientation {orientation}")


def test_bad_folders_fail_with_a_fix(tmp_path, tfds_dir):
  with pytest.raises(sources.DataError, match="unknown dataset .*nowhere.*smile/ and not_smile/"):
    builders.build(str(tmp_path / "nowhere"), tfds_dir)
  (tmp_path / "empty" / "smile").mkdir(parents=True)
  (tmp_path / "empty" / "not_smile").mkdir()
  with pytest.raises(sources.DataError, match="they are empty"):
    builders.build(str(tmp_path / "empty"), tfds_dir)
  (tmp_path / "odd" / "happy").mkdir(parents=True)
  with pytest.raises(sources.DataError, match="unknown class folder"):
    builders.build(str(tmp_path / "odd"), tfds_dir)
  with pytest.raises(sources.DataError, match="SMILEs/ folder not found"):
    sources.smilesmiled_examples(str(tmp_path / "empty"))


def test_smilesmiled_layout_with_bad_files(tmp_path, tfds_dir):
  """A crafted copy of SMILEsmileD's layout, mouth boxes included, with bad files mixed in."""
  smiles = tmp_path / "SMILEsmileD" / "SMILEs"
  for index in range(5):
    write_jpeg(
        str(smiles / "positives" / "positives7" / f"{index}.jpg"), face_like(index, smiling=True))
    write_jpeg(str(smiles / "negatives" / "negatives7" / f"{index}.jpg"), face_like(50 + index))
  (smiles / "positives" / "smiles_01_pos.idx").write_text("positives7/3.jpg 1 10 42 45 19\n")
  expected = _bad_files(str(smiles / "negatives" / "negatives7"))
  ds = builders.build("smilesmiled", tfds_dir, data_dir=str(tmp_path))
  assert len(ds.labels) == 10 and len(ds.summary["skipped"]) == len(expected)
  mouth = dict(zip(ds.keys, ds.mouth_box.tolist()))
  assert mouth["positives/positives7/3.jpg"] == [10, 42, 45, 19]
  assert mouth["positives/positives7/0.jpg"] == [-1, -1, -1, -1]


def test_real_smilesmiled_subset(shared_data_dir, tfds_dir):
  ds = builders.build("smilesmiled", tfds_dir, data_dir=shared_data_dir, max_per_class=40)
  assert ds.images.shape == (80, 64, 64, 1) and ds.labels.sum() == 40
  has_box = ds.mouth_box[:, 0] >= 0
  assert has_box[ds.labels == 1].mean() > 0.9 and not has_box[ds.labels == 0].any()
  # Mouth boxes sit in the lower half of the face crop.
  assert (ds.mouth_box[has_box, 1] + ds.mouth_box[has_box, 3] / 2 > 32).all()


def test_face_detection_on_real_photos(shared_data_dir):
  folder = os.path.join(shared_data_dir, "genki4k-dev", "Smile")
  paths = sorted(os.listdir(folder))[:10]
  crops = [faces.crop_face(images.read_image(os.path.join(folder, p)), 64) for p in paths]
  assert sum(c.face_found for c in crops) >= 8
  assert all(c.image.shape == (64, 64) and c.image.dtype == np.uint8 for c in crops)
  blank = faces.crop_face(np.full((120, 90), 128, np.uint8), 64)
  assert not blank.face_found and blank.box == (0, 0, 0, 0) and blank.image.shape == (64, 64)


def test_face_detection_tries_again_where_the_first_cascade_misses(shared_data_dir):
  folder = os.path.join(shared_data_dir, "genki4k-dev", "Smile")
  # file0199: a face in shadow that fills the frame; file0355: a head tilted ~20 degrees.
  for name, angle in (("file0199.jpg", 0.0), ("file0355.jpg", 20.0)):
    image = images.read_image(os.path.join(folder, name))
    gray = images.to_gray(image)
    assert faces.detect_face(gray)[1] != faces.ATTEMPTS[0]
    crop = faces.crop_face(image, 64)
    assert crop.face_found and crop.angle == angle and crop.image.shape == (64, 64)
    box_x, box_y, box_w, box_h = crop.box
    centre_x, centre_y = box_x + box_w / 2, box_y + box_h / 2
    assert 0 < centre_x < gray.shape[1] and 0 < centre_y < gray.shape[0]
