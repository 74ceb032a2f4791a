"""Tests for the synthetic Oxford-IIIT Pet generator and the layout module it shares with TFDS.

The last test runs TensorFlow Datasets' real `oxford_iiit_pet` builder on the generated directory,
offline, which is the proof that the layout is the one TFDS parses.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from contract import oxford_pets as layout
from datagen.synthetic_pets import write_dataset

N_TRAIN, N_TEST = 12, 6


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[str, dict]:
    """One small generated dataset (seed 0) shared by the read-only tests."""
    root = str(tmp_path_factory.mktemp("pets"))
    return root, write_dataset(root, N_TRAIN, N_TEST, seed=0)


def _entries(root: str) -> dict[str, list[layout.ListEntry]]:
    """Parsed list files of both splits."""
    return {split: layout.parse_list_file(layout.list_file_path(root, split)) for split in ("train", "test")}


def _all_files(root: str) -> dict[str, bytes]:
    """Every file under root, by relative path, with its bytes."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


def test_layout_matches_list_files(dataset):
    root, summary = dataset
    entries = _entries(root)
    assert [len(entries["train"]), len(entries["test"])] == [N_TRAIN, N_TEST]
    assert summary["counts"] == {"train": N_TRAIN, "test": N_TEST}
    assert summary["list_files"]["train"] == os.path.join(root, "annotations", "trainval.txt")
    assert summary["list_files"]["test"] == os.path.join(root, "annotations", "test.txt")
    train_names = {e.name for e in entries["train"]}
    test_names = {e.name for e in entries["test"]}
    assert not train_names & test_names
    for split, split_entries in entries.items():
        for e in split_entries:
            assert os.path.isfile(os.path.join(root, "images", e.name + ".jpg"))
            assert os.path.isfile(os.path.join(root, "annotations", "trimaps", e.name + ".png"))
            has_xml = os.path.isfile(os.path.join(root, "annotations", "xmls", e.name + ".xml"))
            assert has_xml == (split == "train")
    assert {n[:-4] for n in os.listdir(summary["images_dir"])} == train_names | test_names
    assert {n[:-4] for n in os.listdir(summary["trimaps_dir"])} == train_names | test_names
    assert {n[:-4] for n in os.listdir(summary["xmls_dir"])} == train_names


def test_list_lines_are_consistent_with_the_breed_table(dataset):
    root, summary = dataset
    for split, split_entries in _entries(root).items():
        with open(layout.list_file_path(root, split), encoding="utf-8") as f:
            assert f.read() == "".join(layout.format_list_line(e) + "\n" for e in split_entries)
        for e in split_entries:
            breed, number = e.name.rsplit("_", 1)
            assert breed == layout.CLASS_NAMES[e.class_id - 1] == e.breed
            assert int(number) >= 1
            is_cat = breed[0].isupper()
            assert e.species_id == (layout.SPECIES_CAT if is_cat else layout.SPECIES_DOG)
            same_species = [b for b in layout.CLASS_NAMES if b[0].isupper() == is_cat]
            assert e.breed_id == same_species.index(breed) + 1
            assert e.name not in layout.TFDS_REENCODED_NAMES
        species = summary["species_counts"][split]
        assert species == {
            "Cat": sum(e.species_id == 1 for e in split_entries),
            "Dog": sum(e.species_id == 2 for e in split_entries),
        }
        assert species["Cat"] > 0 and species["Dog"] > 0


def test_one_cycle_renders_every_breed_once(tmp_path):
    summary = write_dataset(str(tmp_path), layout.NUM_CLASSES, 1, seed=5)
    assert summary["class_counts"]["train"] == {breed: 1 for breed in layout.CLASS_NAMES}
    assert summary["species_counts"]["train"] == {"Cat": 12, "Dog": 25}


def test_breed_table_matches_the_real_dataset():
    assert len(layout.CLASS_NAMES) == 37
    assert sorted(layout.CLASS_NAMES, key=str.lower) == list(layout.CLASS_NAMES)
    cats = [b for b in layout.CLASS_NAMES if layout.species_of(layout.class_id_of(b)) == layout.SPECIES_CAT]
    assert len(cats) == 12 and all(b[0].isupper() for b in cats)
    # Lines from the real list files.
    expected = layout.ListEntry("Abyssinian_100", 1, 1, 1)
    assert layout.parse_list_line("Abyssinian_100 1 1 1") == expected
    assert layout.parse_list_line("Sphynx_1 34 1 12").breed == "Sphynx"
    assert layout.parse_list_line("yorkshire_terrier_1 37 2 25\n").breed_id == 25


def test_trimaps_are_single_channel_with_exactly_values_1_2_3(dataset):
    root, _ = dataset
    for split_entries in _entries(root).values():
        for e in split_entries:
            with Image.open(layout.trimap_path(root, e)) as trimap:
                with Image.open(layout.image_path(root, e)) as image:
                    assert trimap.size == image.size
                assert trimap.format == "PNG" and trimap.mode == "L"
                assert set(np.unique(np.asarray(trimap)).tolist()) == set(layout.TRIMAP_VALUES)


def test_images_are_rgb_jpegs_of_varied_size(dataset):
    root, _ = dataset
    sizes = set()
    for split_entries in _entries(root).values():
        for e in split_entries:
            with Image.open(layout.image_path(root, e)) as image:
                assert image.format == "JPEG" and image.mode == "RGB"
                image.load()
                w, h = image.size
            assert 160 <= w <= 420 and 160 <= h <= 420 and 0.6 <= w / h <= 1.7
            sizes.add((w, h))
    assert len({w for w, _ in sizes}) > N_TRAIN // 2 and len({h for _, h in sizes}) > N_TRAIN // 2


def test_head_box_xml_lies_inside_the_image(dataset):
    root, _ = dataset
    for e in _entries(root)["train"]:
        annotation = ET.parse(layout.xml_path(root, e)).getroot()
        with Image.open(layout.image_path(root, e)) as image:
            w, h = image.size
        assert annotation.findtext("filename") == e.name + ".jpg"
        size = [int(annotation.findtext(f"size/{k}")) for k in ("width", "height", "depth")]
        assert size == [w, h, 3]
        animal = "cat" if e.species_id == layout.SPECIES_CAT else "dog"
        assert annotation.findtext("object/name") == animal
        box = {k: int(annotation.findtext(f"object/bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")}
        assert 1 <= box["xmin"] < box["xmax"] <= w
        assert 1 <= box["ymin"] < box["ymax"] <= h


def test_same_seed_gives_identical_bytes_and_other_seeds_differ(dataset, tmp_path):
    root, _ = dataset
    first = _all_files(root)
    write_dataset(str(tmp_path / "same"), N_TRAIN, N_TEST, seed=0)
    assert _all_files(str(tmp_path / "same")) == first
    write_dataset(str(tmp_path / "other"), N_TRAIN, N_TEST, seed=1)
    other = _all_files(str(tmp_path / "other"))
    assert other.keys() == first.keys()  # names depend on split and index only
    images = [k for k in first if k.endswith(".jpg")]
    assert all(other[k] != first[k] for k in images)


def test_test_split_does_not_depend_on_n_train(dataset, tmp_path):
    root, _ = dataset
    write_dataset(str(tmp_path / "small"), 3, N_TEST, seed=0)
    small = _all_files(str(tmp_path / "small"))
    first = _all_files(root)
    for e in _entries(root)["test"]:
        for path in (layout.image_path("", e), layout.trimap_path("", e)):
            assert small[path] == first[path]
    assert small[layout.TEST_LIST] == first[layout.TEST_LIST]


def _best_threshold_accuracy(image: np.ndarray, pet: np.ndarray, background: np.ndarray) -> float:
    """Accuracy of the best single threshold on R, G, B or grey, fitted to this image's own labels.

    It is an oracle (fitted per image on the answer), so it is an upper bound on what any per-pixel
    colour threshold can do.
    """
    known = pet | background
    labels = pet[known]
    features = np.concatenate([image, image.mean(axis=2, keepdims=True)], axis=2)[known]
    n, n_pet = len(labels), int(labels.sum())
    best = 0.0
    for channel in range(features.shape[1]):
        ordered = labels[np.argsort(features[:, channel], kind="stable")]
        bg_below = np.concatenate([[0], np.cumsum(~ordered)])
        pet_below = np.concatenate([[0], np.cumsum(ordered)])
        above_is_pet = (bg_below + n_pet - pet_below) / n
        below_is_pet = (pet_below + (n - n_pet) - bg_below) / n
        best = max(best, float(above_is_pet.max()), float(below_is_pet.max()))
    return best


def test_pet_differs_from_background_but_colour_threshold_does_not_segment_it(dataset):
    root, _ = dataset
    accuracies, distances = [], []
    for split_entries in _entries(root).values():
        for e in split_entries:
            with Image.open(layout.image_path(root, e)) as im:
                image = np.asarray(im, np.float32)
            with Image.open(layout.trimap_path(root, e)) as tm:
                trimap = np.asarray(tm)
            pet, background = trimap == layout.TRIMAP_PET, trimap == layout.TRIMAP_BACKGROUND
            accuracies.append(_best_threshold_accuracy(image, pet, background))
            mean_difference = image[pet].mean(axis=0) - image[background].mean(axis=0)
            distances.append(np.linalg.norm(mean_difference))
    # There is signal: in most images the pet's mean colour is clearly not the background's.
    assert np.mean(np.array(distances) > 10) >= 0.8
    # But a per-pixel colour threshold, even fitted per image, does not solve the task.
    assert np.median(accuracies) < 0.95
    assert np.mean(np.array(accuracies) > 0.95) <= 0.5


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_train": 0, "n_test": 1}, "n_train"),
        ({"n_train": 1, "n_test": 0}, "n_test"),
        ({"n_train": 2.0, "n_test": 1}, "n_train"),
        ({"n_train": True, "n_test": 1}, "n_train"),
        ({"n_train": 1, "n_test": 1, "seed": -1}, "seed"),
    ],
)
def test_write_dataset_rejects_bad_arguments(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name):
        write_dataset(str(tmp_path), **kwargs)
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize(
    "line, message",
    [
        ("Abyssinian_1 1 1", "4 space-separated fields"),
        ("Abyssinian_1  1 1 1", "4 space-separated fields"),
        ("", "4 space-separated fields"),
        ("Abyssinian_1 x 1 1", "integers"),
        ("Abyssinian_1 38 1 1", "outside 1..37"),
        ("Abyssinian_1 1 2 1", "species 2"),
        ("beagle_1 5 2 5", "breed id 5"),
        ("../x 1 1 1", "invalid image name"),
    ],
)
def test_parse_list_file_names_file_and_line_of_malformed_lines(tmp_path, line, message):
    path = tmp_path / "trainval.txt"
    path.write_text("Abyssinian_100 1 1 1\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as excinfo:
        layout.parse_list_file(path)
    assert f"{path}:2:" in str(excinfo.value)


def test_parse_list_file_rejects_repeated_names(tmp_path):
    path = tmp_path / "test.txt"
    path.write_text("pug_2 26 2 18\npug_4 26 2 18\npug_2 26 2 18\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"test.txt:3: name 'pug_2' repeats line 1"):
        layout.parse_list_file(path)


def test_paths_and_list_line_round_trip():
    entry = layout.ListEntry.for_class("Bengal_3", layout.class_id_of("Bengal"))
    assert layout.format_list_line(entry) == "Bengal_3 6 1 2"
    assert layout.parse_list_line(layout.format_list_line(entry)) == entry
    assert layout.image_path("/d", entry) == "/d/images/Bengal_3.jpg"
    assert layout.trimap_path("/d", "Bengal_3") == "/d/annotations/trimaps/Bengal_3.png"
    assert layout.xml_path("/d", entry) == "/d/annotations/xmls/Bengal_3.xml"
    with pytest.raises(ValueError, match="unknown split"):
        layout.list_file_path("/d", "validation")


def test_real_tfds_builder_prepares_the_generated_layout_offline(tmp_path, monkeypatch):
    """Runs TFDS's own oxford_iiit_pet builder on a generated directory, with no network.

    The builder's `_split_generators` calls
        dl_manager.download_and_extract({"images": <url>/images.tar.gz,
                                         "annotations": <url>/annotations.tar.gz})
    and joins "images" onto the first result and "annotations" onto the second. Both archives
    extract to a directory in exactly the generated layout, so the test replaces
    `DownloadManager.download_and_extract` (on the class, for this test only) with a function that
    maps every requested URL to the generated root. Nothing is downloaded, extracted or checksummed;
    `try_download_gcs=False` keeps TFDS from looking for a prepared copy on GCS.
    """
    tfds = pytest.importorskip("tensorflow_datasets")
    from etils import epath

    root = tmp_path / "pets"
    write_dataset(str(root), N_TRAIN, N_TEST, seed=0)
    requested = []

    def download_and_extract(self, url_or_urls):
        assert isinstance(url_or_urls, dict), url_or_urls
        requested.extend(url_or_urls.values())
        return {key: epath.Path(root) for key in url_or_urls}

    monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract", download_and_extract)
    builder = tfds.builder("oxford_iiit_pet", data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            try_download_gcs=False, compute_stats=tfds.download.ComputeStatsMode.SKIP
        )
    )

    assert sorted(os.path.basename(u) for u in requested) == ["annotations.tar.gz", "images.tar.gz"]
    assert builder.info.splits["train"].num_examples == N_TRAIN
    assert builder.info.splits["test"].num_examples == N_TEST
    entries = {e.name + ".jpg": e for es in _entries(str(root)).values() for e in es}
    for split in ("train", "test"):
        examples = list(tfds.as_numpy(builder.as_dataset(split=split)))
        assert len(examples) == (N_TRAIN if split == "train" else N_TEST)
        for ex in examples:
            entry = entries[ex["file_name"].decode()]
            assert ex["label"] == entry.class_id - 1 and ex["species"] == entry.species_id - 1
            image, mask = ex["image"], ex["segmentation_mask"]
            h, w = image.shape[:2]
            assert image.shape[2] == 3 and mask.shape == (h, w, 1)
            assert set(np.unique(mask).tolist()) == {1, 2, 3}
            box = ex["head_bbox"]  # ymin, xmin, ymax, xmax relative to the image
            if split == "train":
                xml = ET.parse(layout.xml_path(str(root), entry)).getroot().find("object/bndbox")
                expected = [
                    int(xml.findtext(k)) / d for k, d in (("ymin", h), ("xmin", w), ("ymax", h), ("xmax", w))
                ]
                np.testing.assert_allclose(box, expected, rtol=1e-6)
            else:
                assert not box.any()  # test images have no xml; TFDS stores an empty box
        # The records hold the generated files' bytes unchanged: TFDS stores encoded images as is.
        skip = tfds.decode.SkipDecoding()
        raw = builder.as_dataset(split=split, decoders={"image": skip, "segmentation_mask": skip})
        for ex in tfds.as_numpy(raw):
            entry = entries[ex["file_name"].decode()]
            with open(layout.image_path(str(root), entry), "rb") as f:
                assert ex["image"] == f.read()
            with open(layout.trimap_path(str(root), entry), "rb") as f:
                assert ex["segmentation_mask"] == f.read()
