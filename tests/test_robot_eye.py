"""Robot's-eye frames, the device crop's arithmetic, and the benchmark's scores on fixed answers."""

import glob
import math
import os

import numpy as np
import pytest

from smile_jax.data import camera_frames, face_map, faces, frame_crop, frame_sets, viola_jones
from smile_jax.eval import robot_eye


def loop_box_average(frame, x0, y0, side, out_h, out_w):
  """The crop's definition, pixel by pixel (frame_crop's docstring)."""
  height, width = frame.shape
  out = np.zeros((out_h, out_w), np.uint8)
  for i in range(out_h):
    r0 = i * side // out_h
    r1 = max((i + 1) * side // out_h, r0 + 1)
    for j in range(out_w):
      c0 = j * side // out_w
      c1 = max((j + 1) * side // out_w, c0 + 1)
      total = sum(int(frame[min(max(y0 + r, 0), height - 1), min(max(x0 + c, 0), width - 1)])
                  for r in range(r0, r1) for c in range(c0, c1))
      count = (r1 - r0) * (c1 - c0)
      out[i, j] = (total + count // 2) // count
  return out


@pytest.mark.parametrize("x0, y0, side, out", [(10, 5, 100, 32), (-7, -3, 50, 24), (300, 200, 40, 64),
                                               (0, 0, 244, 64), (250, -20, 90, 7)])
def test_box_average_is_its_definition(x0, y0, side, out):
  frame = np.random.default_rng(side).integers(0, 256, (244, 324), dtype=np.uint8)
  np.testing.assert_array_equal(frame_crop.box_average(frame, x0, y0, side, out, out),
                                loop_box_average(frame, x0, y0, side, out, out))


def test_face_square_frames_a_box_as_the_host_crop_does():
  for box in [(40, 30, 90, 90), (0, 0, 41, 43), (200, 100, 57, 57)]:
    x0, y0, side = frame_crop.face_square(box)
    x, y, w, h = box
    assert abs(side - faces.CROP_SIDE * w) <= 0.5
    assert abs(x0 + side / 2 - (x + w / 2)) <= 1
    assert abs(y0 + side / 2 - (y + h / 2 + faces.CROP_SHIFT_DOWN * h)) <= 1


def test_box_average_refuses_what_it_cannot_crop():
  with pytest.raises(ValueError, match="uint8"):
    frame_crop.box_average(np.zeros((10, 10), np.float32), 0, 0, 5, 2, 2)
  with pytest.raises(ValueError, match="must all be >= 1"):
    frame_crop.box_average(np.zeros((10, 10), np.uint8), 0, 0, 0, 2, 2)


def _face(label, size=64, key="face"):
  yy, xx = np.mgrid[0:size, 0:size]
  image = (128 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)).astype(np.uint8)
  return camera_frames.Source(key, image, label, (-4, -9, 71, 71), is_crop=True)


def _photo(label, key="photo"):
  image = np.random.default_rng(len(key)).integers(0, 256, (192, 180), dtype=np.uint8)
  return camera_frames.Source(key, image, label, (45, 50, 90, 90))


def test_frames_are_seeded_sized_and_hold_their_faces():
  sources = [_photo(1), _face(0)]
  one = camera_frames.draw("arm", [sources[0]], sources, seed=3)
  again = camera_frames.draw("arm", [sources[0]], sources, seed=3)
  np.testing.assert_array_equal(one.image, again.image)
  assert one.image.shape == (camera_frames.HEIGHT, camera_frames.WIDTH)
  assert one.image.dtype == np.uint8 and one.label == 1 and one.keys == ("photo",)
  assert not np.array_equal(one.image, camera_frames.draw("arm", [sources[0]], sources, 4).image)
  heights = {kind: camera_frames.draw(kind, [sources[0]], sources, 5).boxes[0][3]
             for kind in ("arm", "room")}
  assert heights["room"] / heights["arm"] == pytest.approx(0.35 / 0.6, abs=0.03)
  crop = camera_frames.draw("arm", [sources[1]], sources, 6)
  [(x, y, w, h)] = crop.boxes
  assert h == pytest.approx(0.6 * camera_frames.HEIGHT * camera_frames.FACE_SHARE, abs=2)
  two = camera_frames.draw("two", sources, sources, 7)
  assert two.label == 1 and len(two.boxes) == 2
  assert two.boxes[0][0] + two.boxes[0][2] <= two.boxes[1][0] + 1   # side by side
  none = camera_frames.draw("none", [], sources, 8)
  assert none.label == 0 and none.boxes == ()
  for frame in (one, crop, two):
    for x, y, w, h in frame.boxes:
      assert 0 <= x and 0 <= y and x + w <= camera_frames.WIDTH and y + h <= camera_frames.HEIGHT


def test_a_frame_of_the_wrong_make_is_refused():
  with pytest.raises(ValueError, match="draws 2 source"):
    camera_frames.draw("two", [_face(1)], [], seed=0)
  with pytest.raises(ValueError, match="frame kind 'far'"):
    camera_frames.draw("far", [_face(1)], [], seed=0)


def _frame(kind, label, boxes):
  return camera_frames.Frame(np.zeros((2, 2), np.uint8), label, kind, tuple(boxes), ())


def test_measure_counts_faces_false_faces_and_auc():
  truth = (100, 100, 50, 50)
  frames = [_frame("arm", 1, [truth]), _frame("arm", 0, [truth]), _frame("arm", 1, [truth]),
            _frame("none", 0, [])]
  answers = [robot_eye.Answer(0.9, ((105, 102, 48, 50),), True),          # found
             robot_eye.Answer(0.2, ((0, 0, 30, 30),), True),              # a false face, missed
             robot_eye.Answer(0.1, (), False),                            # missed
             robot_eye.Answer(0.0, ((10, 10, 20, 20), (40, 40, 20, 20)), True)]
  scores = robot_eye.measure(frames, answers)
  assert scores["arm"].faces_found == pytest.approx(1 / 3)
  assert scores["arm"].false_faces_per_frame == pytest.approx(1 / 3)
  assert scores["arm"].auc == pytest.approx(0.5)      # 0.9 > 0.2 > 0.1: one of two pairs right
  assert scores["none"].auc is None and scores["none"].faces_found is None
  assert scores["none"].false_faces_per_frame == 2.0
  assert "| arm | 3 | 0.500 | 33.3% | 0.33 |" in robot_eye.table({"x": scores})


def test_host_pipeline_finds_the_face_in_a_frame_of_a_real_photo(shared_data_dir):
  path = sorted(glob.glob(os.path.join(shared_data_dir, "genki4k-dev", "Smile", "*.jpg")))[0]
  source = camera_frames.source_from_photo("genki", path, 1)
  frames = [camera_frames.draw(kind, [source], [source], seed=1) for kind in ("portrait", "arm")]
  answers = robot_eye.host(lambda crops: np.full(len(crops), 0.7), 64)([f.image for f in frames])
  scores = robot_eye.measure(frames, answers)
  assert scores["portrait"].faces_found == scores["arm"].faces_found == 1.0
  assert all(a.score == 0.7 and a.face_found for a in answers)
  centre = robot_eye.centre_square(lambda crops: crops.mean(axis=(1, 2, 3)) / 255, 64)
  [answer] = centre([frames[1].image])
  expected = frame_crop.box_average(frames[1].image, 40, 0, 244, 64, 64).mean() / 255
  assert answer.score == pytest.approx(expected) and answer.boxes == ()


def test_the_cascade_reads_as_integer_tables():
  cascade = viola_jones.Cascade.from_opencv("haarcascade_frontalface_alt2.xml")
  assert cascade.window == 20 and cascade.nodes_per_tree == 2
  trees = np.diff(cascade.stage_trees)
  assert len(trees) == 20 and trees[:3].tolist() == [3, 9, 14]
  assert len(cascade.node_feature) == 2 * cascade.stage_trees[-1]
  assert len(cascade.leaf) == 3 * cascade.stage_trees[-1]
  assert set(np.unique(cascade.rects[..., 4])) <= {-1, 0, 2, 3}
  # 4.3272329494357109e-03 is the first node's threshold in the XML
  assert cascade.node_threshold[0] == round(4.3272329494357109e-03 * 2 ** 24)


def test_integral_images_stay_exact_when_the_squares_wrap():
  frame = np.full((244, 324), 250, np.uint8)
  frame[::7, ::5] = 3
  sums, squares = viola_jones.integrals(frame)
  assert int(squares[-1, -1]) != int((frame.astype(np.int64) ** 2).sum())   # it wrapped
  ys, xs = np.array([0, 100, 224]), np.array([0, 150, 304])
  got = viola_jones._rect_sum(squares, ys, xs, 1, 1, 18, 18) & 0xFFFFFFFF
  want = [int((frame[y + 1:y + 19, x + 1:x + 19].astype(np.int64) ** 2).sum()) for y, x in zip(ys, xs)]
  assert got.tolist() == want
  values = np.array([0, 1, 2, 3, 4, 15, 16, 17, 2 ** 40 - 1, 2 ** 40, 10 ** 12 + 7])
  assert viola_jones.isqrt(values).tolist() == [math.isqrt(int(v)) for v in values]


def test_grouping_keeps_supported_groups_and_drops_nested_ones():
  face = [(100, 50, 40, 40), (102, 51, 40, 40), (99, 49, 42, 42), (101, 52, 38, 38)]
  lone = [(10, 10, 24, 24)]
  nested = [(110, 60, 20, 20), (111, 60, 20, 20), (110, 61, 20, 20)]   # inside the face
  boxes = viola_jones.group(face + lone + nested, min_neighbors=2)
  assert boxes == [(101, 51, 40, 40)]
  assert viola_jones.group(lone, min_neighbors=0) == [(10, 10, 24, 24)]
  assert viola_jones.group([], min_neighbors=2) == []


@pytest.fixture(scope="module")
def locator():
  return viola_jones.Locator(viola_jones.Cascade.from_opencv())


def test_the_locator_finds_a_real_face_and_nothing_in_blank_frames(locator, shared_data_dir):
  path = sorted(glob.glob(os.path.join(shared_data_dir, "genki4k-dev", "Smile", "*.jpg")))[0]
  source = camera_frames.source_from_photo("genki", path, 1)
  frame = camera_frames.draw("arm", [source], [source], seed=2)
  found = locator.find(frame.image)
  assert 1 <= len(found) <= locator.max_faces
  assert face_map.iou(found[0], frame.boxes[0]) >= face_map.MATCH_IOU
  for blank in (np.zeros((244, 324), np.uint8), np.full((244, 324), 255, np.uint8),
                np.full((244, 324), 97, np.uint8)):
    assert locator.find(blank) == []
  with pytest.raises(ValueError, match="324x244 frames, got 64x64"):
    locator.find(np.zeros((64, 64), np.uint8))


def test_located_scores_the_best_face_and_no_face_as_no_smile():
  frame = np.zeros((244, 324), np.uint8)
  frame[100:150, 200:250] = 200                      # a bright "face" on the right
  boxes = {0: [(10, 10, 50, 50), (200, 100, 50, 50)], 1: []}
  calls = iter([0, 1])
  pipeline = robot_eye.located(lambda image: boxes[next(calls)],
                               lambda crops: crops.mean(axis=(1, 2, 3)) / 255.0, 32)
  with_faces, without = pipeline([frame, frame])
  assert with_faces.boxes == ((200, 100, 50, 50), (10, 10, 50, 50))   # best-scoring first
  square = frame_crop.face_square((200, 100, 50, 50))
  assert with_faces.score == pytest.approx(
      frame_crop.box_average(frame, *square, 32, 32).mean() / 255.0)
  assert without == robot_eye.Answer(0.0, (), False)


def test_any_picture_becomes_the_frame_the_camera_would_take():
  frame = np.arange(244 * 324, dtype=np.uint32).reshape(244, 324).astype(np.uint8)
  np.testing.assert_array_equal(camera_frames.sensor_frame(frame), frame)     # already one
  big = np.zeros((488, 648, 3), np.uint8)
  big[:, 324:] = (0, 0, 255)                                                  # right half red
  out = camera_frames.sensor_frame(big)
  assert out.shape == (244, 324) and out.dtype == np.uint8
  assert out[:, :160].max() == 0 and out[:, 164:].min() == 76               # gray of pure red
  tall = np.zeros((1000, 300), np.uint8)
  tall[:500] = 200                                                            # top half bright
  out = camera_frames.sensor_frame(tall)      # scaled to 324 wide (1080 tall), centre rows kept
  assert out.shape == (244, 324) and out[:100].min() == 200 and out[-100:].max() == 0


def test_the_locator_frames_draw_each_dataset_about_as_often():
  rng = np.random.default_rng(0)
  def source(name, i):
    image = (rng.random((100, 90)) * 255).astype(np.uint8)
    return camera_frames.Source(f"{name}:{i}", image, i % 2, (20, 20, 50, 50))
  sources = [source("big", i) for i in range(30)] + [source("small", i) for i in range(3)]
  drawn = frame_sets.locator_set(sources, 120, seed=0)
  assert drawn.inputs.shape == (120, face_map.INPUT_H, face_map.INPUT_W)
  assert set(drawn.kinds) <= set(camera_frames.KINDS) and "none" in drawn.kinds
  assert all(not b for b, k in zip(drawn.boxes, drawn.kinds) if k == "none")
  drawn_from = [key.split(":")[0] for keys in drawn.keys for key in keys]
  assert 0.35 < drawn_from.count("small") / len(drawn_from) < 0.65          # 3 of 33 sources
  again = frame_sets.locator_set(sources, 120, seed=0)
  np.testing.assert_array_equal(again.inputs, drawn.inputs)                  # seeded
