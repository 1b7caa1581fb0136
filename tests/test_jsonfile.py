"""Workdir JSON files: path fields written relative to the file, read back absolute."""

import json
import os

import pytest

from smile_jax.io import jsonfile


def test_paths_inside_the_folder_are_relative_and_read_back_absolute(tmp_path):
  path = str(tmp_path / "summary.json")
  inside, outside = str(tmp_path / "runs" / "a"), "/elsewhere/data"
  jsonfile.dump({"run_dir": inside, "nested": [{"run_base": inside, "split_manifest": outside}],
                 "name": "a/b"}, path)
  stored = json.load(open(path))
  assert stored["run_dir"] == os.path.join("runs", "a") and stored["name"] == "a/b"
  assert stored["nested"][0] == {"run_base": os.path.join("runs", "a"), "split_manifest": outside}
  loaded = jsonfile.load(path)
  assert loaded["run_dir"] == inside and loaded["nested"][0]["run_base"] == inside


def test_an_absolute_path_under_another_key_is_an_error_naming_it(tmp_path):
  with pytest.raises(ValueError, match="'checkpoint'.*PATH_KEYS"):
    jsonfile.dump({"rows": [{"checkpoint": str(tmp_path / "ckpt")}]}, str(tmp_path / "x.json"))


def test_a_root_above_the_file_keeps_its_paths_relative_through_parent_folders(tmp_path):
  path = str(tmp_path / "deploy" / "deploy.json")
  (tmp_path / "deploy").mkdir()
  run = str(tmp_path / "search" / "finalists" / "a")
  jsonfile.dump({"run_dir": run}, path, root=str(tmp_path))
  assert json.load(open(path))["run_dir"] == os.path.join("..", "search", "finalists", "a")
  assert jsonfile.load(path)["run_dir"] == run


def test_an_empty_path_field_means_unset_and_stays_empty(tmp_path):
  path = str(tmp_path / "config.json")
  jsonfile.dump({"data": {"tfds_dir": "", "split_manifest": str(tmp_path / "split.json")}}, path)
  assert json.load(open(path))["data"] == {"tfds_dir": "", "split_manifest": "split.json"}
  assert jsonfile.load(path)["data"]["tfds_dir"] == ""
