"""The raw-file check that keeps the TFDS builder from dying on one bad list entry."""

import os

from components.tfds_example_gen.raw_files import stage_oxford_pets
from contract import oxford_pets as layout


def _first(root, split="train"):
    return layout.parse_list_file(layout.list_file_path(root, split))[0]


def test_a_clean_directory_is_staged_unchanged(dataset, tmp_path):
    roots, bad = stage_oxford_pets({"images": dataset, "annotations": dataset}, str(tmp_path / "s"))
    assert bad == [] and roots == {"images": str(tmp_path / "s"), "annotations": str(tmp_path / "s")}
    for split in ("train", "test"):
        with (
            open(layout.list_file_path(dataset, split)) as a,
            open(layout.list_file_path(roots["images"], split)) as b,
        ):
            assert a.read() == b.read()
    assert os.path.islink(tmp_path / "s" / "images")


def test_entries_the_builder_would_die_on_are_left_out_with_a_reason(dataset, tmp_path):
    entries = layout.parse_list_file(layout.list_file_path(dataset, "train"))
    os.remove(layout.image_path(dataset, entries[0]))
    os.remove(layout.trimap_path(dataset, entries[1]))
    with open(layout.xml_path(dataset, entries[2]), "w") as handle:
        handle.write("<annotation><size>")
    with open(layout.xml_path(dataset, entries[3])) as handle:
        xml = handle.read()
    with open(layout.xml_path(dataset, entries[3]), "w") as handle:
        handle.write(xml.replace("<xmax>", "<xmax>9999", 1))
    with open(layout.list_file_path(dataset, "train"), "a") as handle:
        handle.write("\n" + layout.format_list_line(entries[5]) + "\nbroken_1 1 1\n")
    before = sorted(os.listdir(dataset))
    roots, bad = stage_oxford_pets({"images": dataset, "annotations": dataset}, str(tmp_path / "s"))
    reasons = {(r.file_name, r.reason) for r in bad}
    assert reasons == {
        (entries[0].name + ".jpg", "missing_image"),
        (entries[1].name + ".jpg", "missing_mask"),
        (entries[2].name + ".jpg", "unreadable_annotation"),
        (entries[3].name + ".jpg", "unreadable_annotation"),
        ("<blank line>", "malformed_list_line"),
        (entries[5].name + ".jpg", "malformed_list_line"),  # listed twice
        ("broken_1.jpg", "malformed_list_line"),
    }
    kept = layout.parse_list_file(layout.list_file_path(roots["images"], "train"))  # parses cleanly
    assert len(kept) == len(entries) - 4
    assert sorted(os.listdir(dataset)) == before  # the user's directory is untouched
