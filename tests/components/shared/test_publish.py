"""Publishing TF Serving versions: atomic, increasing, pruned, never incomplete."""

import os
import shutil

import pytest

from components.shared import publish as pub
from components.shared.atomic import DELETING_PREFIX, STAGING_PREFIX
from serving.model_layout import versions


def _model(root, name="model"):
    path = root / name
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(name.encode())  # a different model per name
    (path / "variables" / "variables.index").write_bytes(b"i")
    return str(path)


def test_versions_increase_from_one_and_only_the_newest_k_stay(tmp_path):
    base = str(tmp_path / "serving" / "segmenter")
    assert [pub.publish(_model(tmp_path, f"m{i}"), base, keep=2) for i in range(4)] == [1, 2, 3, 4]
    assert versions(base) == [3, 4]
    assert sorted(os.listdir(base)) == ["3", "4"]


def test_prepare_runs_on_the_staged_copy_before_it_is_visible(tmp_path):
    model, base = _model(tmp_path), str(tmp_path / "base")
    seen = []

    def prepare(staged):
        seen.append((os.path.basename(staged), versions(base)))
        os.makedirs(os.path.join(staged, "assets.extra"))
        open(os.path.join(staged, "assets.extra", "tf_serving_warmup_requests"), "wb").close()

    version = pub.publish(model, base, keep=5, prepare=prepare)
    assert seen[0][0].startswith(STAGING_PREFIX) and seen[0][1] == []  # not yet visible
    assert os.path.isfile(os.path.join(base, str(version), "assets.extra", "tf_serving_warmup_requests"))


def test_a_failure_while_staging_leaves_no_version_and_no_staging(tmp_path):
    model, base = _model(tmp_path), str(tmp_path / "base")
    pub.publish(model, base, keep=5)

    def broken(staged):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        pub.publish(_model(tmp_path, "newer"), base, keep=5, prepare=broken)
    assert os.listdir(base) == ["1"]


def test_an_incomplete_model_is_refused(tmp_path):
    model = _model(tmp_path)
    os.remove(os.path.join(model, "saved_model.pb"))
    with pytest.raises(pub.IncompleteModelError, match="saved_model.pb"):
        pub.publish(model, str(tmp_path / "base"), keep=5)
    assert not os.path.exists(tmp_path / "base" / "1")


def test_staging_left_by_a_killed_push_is_cleaned_and_never_a_version(tmp_path):
    model, base = _model(tmp_path), tmp_path / "base"
    (base / f"{STAGING_PREFIX}dead").mkdir(parents=True)
    assert versions(str(base)) == []
    assert pub.publish(model, str(base), keep=5) == 1
    assert sorted(os.listdir(base)) == ["1"]


def test_a_version_taken_meanwhile_moves_the_push_to_the_next_number(tmp_path, monkeypatch):
    model, base = _model(tmp_path), str(tmp_path / "base")
    pub.publish(model, base, keep=5)
    real_versions = versions

    def racing(path):  # another publisher creates version 2 right after we chose it
        found = real_versions(path)
        os.makedirs(os.path.join(base, "2", "variables"), exist_ok=True)
        open(os.path.join(base, "2", "saved_model.pb"), "w").close()
        return found

    monkeypatch.setattr(pub, "versions", racing)
    assert pub.publish(_model(tmp_path, "newer"), base, keep=5) == 3


def test_publishing_the_same_model_again_returns_its_version(tmp_path):
    model, base = _model(tmp_path), str(tmp_path / "base")
    assert pub.publish(model, base, keep=5) == 1
    assert pub.publish(model, base, keep=5) == 1  # a rerun after a kill: not a duplicate
    assert pub.publish(_model(tmp_path, "other"), base, keep=5) == 2 and versions(base) == [1, 2]


def test_pruning_hides_a_version_before_deleting_it(tmp_path, monkeypatch):
    base = str(tmp_path / "base")
    for name in ("a", "b"):
        pub.publish(_model(tmp_path, name), base, keep=5)
    deleted = []
    monkeypatch.setattr(pub.shutil, "rmtree", lambda path, **kw: deleted.append(os.path.basename(path)))
    assert pub.prune(base, keep=1) == [1]
    assert deleted[0].startswith(DELETING_PREFIX)  # renamed out of sight first
    assert versions(base) == [2]


# --- the phone model: published under the SavedModel's number, pruned with it -----------------


def _phone_model(root, name="phone"):
    path = root / name
    path.mkdir()
    (path / "model.tflite").write_bytes(name.encode())  # a different model per name
    (path / "contract.json").write_text("{}")
    return str(path)


def _content(version_dir):
    with open(os.path.join(version_dir, "model.tflite"), "rb") as handle:
        return handle.read()


def test_a_phone_model_takes_the_given_version_and_a_rerun_copies_nothing(tmp_path, monkeypatch):
    model, base = _phone_model(tmp_path), str(tmp_path / "segmenter-tflite")
    assert pub.publish_as(model, base, 7, pub.TFLITE) == os.path.join(base, "7")
    assert versions(base) == [7] and _content(os.path.join(base, "7")) == b"phone"
    monkeypatch.setattr(
        pub.shutil, "copytree", lambda *args, **kwargs: pytest.fail("copied the same model again")
    )
    assert pub.publish_as(model, base, 7, pub.TFLITE) == os.path.join(base, "7")


def test_another_phone_model_under_the_same_number_replaces_it_whole(tmp_path):
    base = str(tmp_path / "segmenter-tflite")
    pub.publish_as(_phone_model(tmp_path, "old"), base, 3, pub.TFLITE)
    pub.publish_as(_phone_model(tmp_path, "new"), base, 3, pub.TFLITE)
    assert _content(os.path.join(base, "3")) == b"new" and sorted(os.listdir(base)) == ["3"]


def test_a_failed_copy_leaves_the_published_version_as_it_was_and_no_staging(tmp_path, monkeypatch):
    base = str(tmp_path / "segmenter-tflite")
    pub.publish_as(_phone_model(tmp_path, "old"), base, 3, pub.TFLITE)

    def half_copy(source, staged, **kwargs):
        shutil.copy(os.path.join(source, "model.tflite"), staged)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pub.shutil, "copytree", half_copy)
    for version in (3, 4):
        with pytest.raises(OSError, match="No space left"):
            pub.publish_as(_phone_model(tmp_path, f"new{version}"), base, version, pub.TFLITE)
    assert sorted(os.listdir(base)) == ["3"] and _content(os.path.join(base, "3")) == b"old"


def test_an_incomplete_phone_model_is_refused(tmp_path):
    model = _phone_model(tmp_path)
    os.remove(os.path.join(model, "contract.json"))
    with pytest.raises(pub.IncompleteModelError, match="contract.json"):
        pub.publish_as(model, str(tmp_path / "base"), 1, pub.TFLITE)
    assert versions(str(tmp_path / "base")) == []


def test_phone_models_are_pruned_with_the_saved_models_versions(tmp_path):
    saved_base, phone_base = str(tmp_path / "segmenter"), str(tmp_path / "segmenter-tflite")
    for i in range(4):
        pub.publish(_model(tmp_path, f"m{i}"), saved_base, keep=2)
        pub.publish_as(_phone_model(tmp_path, f"p{i}"), phone_base, i + 1, pub.TFLITE)
    assert versions(saved_base) == [3, 4] and versions(phone_base) == [1, 2, 3, 4]
    assert pub.prune_with(phone_base, saved_base) == [1, 2]
    assert sorted(os.listdir(phone_base)) == ["3", "4"]
