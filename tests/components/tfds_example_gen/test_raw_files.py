"""The raw-file check that keeps the TFDS builder from dying on one bad list entry."""

import os

import pytest

from components.tfds_example_gen.raw_files import (
    EmptySplitError,
    check_no_split_is_empty,
    original_name,
    read_list_line,
    stage_oxford_pets,
    staged_name,
)
from contract import oxford_pets as layout


def test_a_clean_directory_is_staged_unchanged(dataset, tmp_path):
    staged = stage_oxford_pets({"images": dataset, "annotations": dataset}, str(tmp_path / "s"))
    assert staged.bad == [] and staged.notes == {}
    assert staged.roots == {"images": str(tmp_path / "s"), "annotations": str(tmp_path / "s")}
    for split in ("train", "test"):
        with (
            open(layout.list_file_path(dataset, split)) as a,
            open(layout.list_file_path(staged.roots["images"], split)) as b,
        ):
            assert a.read() == b.read()
        entries = layout.parse_list_file(layout.list_file_path(dataset, split))
        assert staged.kept[split] == len(entries)
        for entry in entries:  # only listed files are staged, each a link to the user's file
            assert os.path.realpath(layout.image_path(str(tmp_path / "s"), entry)) == os.path.realpath(
                layout.image_path(dataset, entry)
            )


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
        handle.write("\n" + layout.format_list_line(entries[5]) + "\nbroken_1 1 1\nwrong_species_1 1 2 1\n")
    before = sorted(os.listdir(dataset))
    staged = stage_oxford_pets({"images": dataset, "annotations": dataset}, str(tmp_path / "s"))
    reasons = {(r.file_name, r.reason) for r in staged.bad}
    assert reasons == {
        (entries[0].name + ".jpg", "missing_image"),
        (entries[1].name + ".jpg", "missing_mask"),
        (entries[2].name + ".jpg", "unreadable_annotation"),
        (entries[3].name + ".jpg", "unreadable_annotation"),
        (entries[5].name + ".jpg", "malformed_list_line"),  # listed twice
        ("broken_1.jpg", "malformed_list_line"),
        ("wrong_species_1.jpg", "malformed_list_line"),  # the builder would store species 2
    }
    assert staged.notes == {"blank_lines": 1}  # the blank line is read past, not a bad record
    kept = layout.parse_list_file(layout.list_file_path(staged.roots["images"], "train"))  # parses cleanly
    assert len(kept) == len(entries) - 4
    assert sorted(os.listdir(dataset)) == before  # the user's directory is untouched


@pytest.mark.parametrize(
    "line,name,usual_breed_column",
    [
        ("Abyssinian_1 1 1 1\n", "Abyssinian_1", True),
        ("Abyssinian_1 1 1 1\r\n", "Abyssinian_1", True),
        ("Abyssinian 1 copy 1 1 1", "Abyssinian 1 copy", True),
        ("great\tpyrenees_7 16 2 10", "great\tpyrenees_7", True),
        ("beagle_3 5 2 3", "beagle_3", False),  # beagle is dog breed 4: another numbering, kept
    ],
)
def test_list_lines_are_read_as_the_builder_reads_them_but_names_stay_whole(line, name, usual_breed_column):
    entry, usual = read_list_line(line)
    assert (entry.name, usual) == (name, usual_breed_column)


@pytest.mark.parametrize("line", ["beagle_3 5 2", "beagle_3 40 2 1", "beagle_3 5 1 3", "a/b 5 2 3"])
def test_lines_the_builder_cannot_use_are_refused(line):
    with pytest.raises(ValueError):
        read_list_line(line)


@pytest.mark.parametrize("name", ["plain_1", "with space", "50% off", "a%20b", "tab\there", "%25"])
def test_staged_names_split_on_spaces_and_come_back_whole(name):
    assert " " not in staged_name(name) and original_name(staged_name(name)) == name


def test_a_split_left_empty_is_named_before_the_builder_runs(dataset, tmp_path):
    with open(layout.list_file_path(dataset, "test"), "w") as handle:
        handle.write("# nothing but a comment\n\n")
    staged = stage_oxford_pets({"images": dataset, "annotations": dataset}, str(tmp_path / "s"))
    with pytest.raises(EmptySplitError, match=r"TFDS split 'test' \(annotations/test.txt\).*lists no entry"):
        check_no_split_is_empty(staged)
