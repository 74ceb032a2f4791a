"""trainer.orientation against Pillow: the model must see every image as the client shows it.

Three kinds of check:
- pixels: for the 8 orientations, both TIFF byte orders, square and non-square images, EXIF
  after JFIF's APP0 or as the first segment, with other IFD0 entries before 0x0112:
  `decode_oriented` equals, exactly, Pillow's `exif_transpose` applied to the pixels
  TensorFlow decoded (the two JPEG decoders differ by a few levels, so that is the exact
  check); and it has the shape of, and is within a few levels of, the client path
  (Pillow decoding the file itself);
- the orientation number against Pillow's, on hand-made edge cases and a seeded differential
  fuzz over malformed EXIF, XMP and segment layouts; random bytes and every truncation of a
  tagged header never raise;
- the graph: a batch of mixed JPEG/PNG bytes through `tf.map_fn` in a `tf.function` with a
  [None] string signature, the same function saved with `tf.saved_model.save` and loaded, as
  TF Serving runs `predict_images`, and a TFT preprocessing_fn with an analyzer behind it.
"""

import io
import random
import struct
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from PIL import Image, ImageOps
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from serving.orientation import displayed
from trainer.orientation import SCAN_BYTES, apply_orientation, decode_oriented, exif_orientation

# The malformed EXIF here is deliberate; Pillow warns about it at every turn.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")

SHORT, ASCII, LONG, RATIONAL, SRATIONAL, FLOAT, DOUBLE, BYTE = 3, 2, 4, 5, 10, 11, 12, 1
ORIENTATION = 0x0112
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"

# (tag, type, count, value): bytes are placed inline (≤ 4) or after the IFD (offset filled in);
# an int is written as the raw 4-byte value/offset field, wherever it points.
Entry = Tuple[int, int, int, Union[bytes, int]]


# ---------------------------------------------------------------- building files


def _pixels(height: int, width: int) -> np.ndarray:
    """Four flat quadrants and a white corner: no two of the 8 orientations look alike, and
    flat areas keep the two JPEG decoders within a few levels of each other."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = (200, 30, 30)
    image[: height // 2, width // 2 :] = (30, 200, 30)
    image[height // 2 :, : width // 2] = (30, 30, 200)
    image[height // 2 :, width // 2 :] = (200, 200, 30)
    image[:4, :4] = 255
    return image


def _jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _png(pixels: np.ndarray, exif: Optional[bytes] = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def _tiff(
    entries: Sequence[Entry],
    little: bool = True,
    header: Optional[bytes] = None,
    ifd_offset: int = 8,
    declared: Optional[int] = None,
) -> bytes:
    """A TIFF block: the header (pointing at `ifd_offset`), then IFD0 with `declared` (default:
    all) entries, then the out-of-line data. IFD0 really is at `ifd_offset` when that is 8..64,
    else right after the header (the header then points elsewhere, on purpose)."""
    order = "<" if little else ">"
    if header is None:
        header = (b"II*\x00" if little else b"MM\x00*") + struct.pack(order + "I", ifd_offset)
    gap = b"\x00" * (ifd_offset - len(header) if len(header) <= ifd_offset <= 64 else 0)
    data_at = len(header) + len(gap) + 2 + 12 * len(entries) + 4
    table, data = b"", b""
    for tag, kind, count, value in entries:
        table += struct.pack(order + "HHI", tag, kind, count)
        if isinstance(value, int):
            table += struct.pack(order + "I", value)
        elif len(value) <= 4:
            table += value.ljust(4, b"\x00")
        else:
            table += struct.pack(order + "I", data_at + len(data))
            data += value
    count = len(entries) if declared is None else declared
    return header + gap + struct.pack(order + "H", count) + table + b"\x00" * 4 + data


def _camera_entries(orientation: int, little: bool) -> List[Entry]:
    """IFD0 as a phone writes it: Make and Model (out of line) before Orientation, then more."""
    order = "<" if little else ">"
    return [
        (0x010F, ASCII, 6, b"Apple\x00"),
        (0x0110, ASCII, 10, b"iPhone 15\x00"),
        (ORIENTATION, SHORT, 1, struct.pack(order + "H", orientation)),
        (0x011A, RATIONAL, 1, struct.pack(order + "II", 72, 1)),
        (0x011B, RATIONAL, 1, struct.pack(order + "II", 72, 1)),
        (0x0128, SHORT, 1, struct.pack(order + "H", 2)),
        (0x0131, ASCII, 5, b"17.1\x00"),
    ]


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _app1_exif(tiff: bytes) -> bytes:
    return _segment(0xE1, b"Exif\x00\x00" + tiff)


def _with_segments(jpeg: bytes, segments: Sequence[bytes], keep_app0: bool = True) -> bytes:
    """The JPEG with `segments` inserted after JFIF's APP0, or first with APP0 dropped."""
    assert jpeg[2:4] == b"\xff\xe0"
    app0_end = 4 + struct.unpack(">H", jpeg[4:6])[0]
    if keep_app0:
        return jpeg[:app0_end] + b"".join(segments) + jpeg[app0_end:]
    return jpeg[:2] + b"".join(segments) + jpeg[app0_end:]


# ---------------------------------------------------------------- the two implementations


def _client_displayed(data: bytes) -> np.ndarray:
    """The client rule (serving/orientation.py) on a file: the photo as the client shows it."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return np.asarray(displayed(image).convert("RGB"))


_ORIENTATIONS = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: a.transpose(1, 0, 2)[::-1],
}


def _pillow_orientation(data: bytes) -> Optional[int]:
    """Which of the 8 transforms the client rule applied to this file, read off the pixels it
    returns (Pillow's own decode, transformed by each candidate); None if Pillow cannot decode
    the file. The base image is asymmetric, so exactly one candidate matches."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            stored = np.asarray(image.convert("RGB"))
        shown = _client_displayed(data)
    except Exception:  # Pillow refuses the file (any of its errors): no oracle
        return None
    matches = [
        k
        for k, turn in _ORIENTATIONS.items()
        if turn(stored).shape == shown.shape and np.array_equal(turn(stored), shown)
    ]
    assert len(matches) == 1, matches
    return matches[0]


@pytest.fixture(scope="module")
def orientations():
    """exif_orientation over a batch, as Transform and serving run it: one traced graph."""
    function = tf.function(
        lambda batch: tf.map_fn(exif_orientation, batch, fn_output_signature=tf.int32),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    return lambda files: function(tf.constant(list(files), tf.string)).numpy().tolist()


# ---------------------------------------------------------------- pixels


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("little", [True, False], ids=["II", "MM"])
@pytest.mark.parametrize("size", [(32, 32), (24, 40)], ids=["square", "wide"])
@pytest.mark.parametrize("keep_app0", [True, False], ids=["after-APP0", "first-segment"])
def test_decode_oriented_matches_pillow(orientation, little, size, keep_app0):
    tiff = _tiff(_camera_entries(orientation, little), little)
    data = _with_segments(_jpeg(_pixels(*size)), [_app1_exif(tiff)], keep_app0)
    assert (data[2:4] == b"\xff\xe0") is keep_app0

    oriented = decode_oriented(tf.constant(data)).numpy()

    # Exact: Pillow's transposition, driven by Pillow's reading of this EXIF, of TF's pixels.
    carrier = Image.fromarray(tf.io.decode_jpeg(data).numpy())
    carrier.info["exif"] = b"Exif\x00\x00" + tiff
    np.testing.assert_array_equal(oriented, np.asarray(ImageOps.exif_transpose(carrier)))
    # The client path end to end: same shape, pixels within the two JPEG decoders' difference
    # (measured: at most 12 levels, 1.8 on average; the nearest wrong orientation: 33 on average).
    shown = _client_displayed(data)
    assert oriented.shape == shown.shape
    difference = np.abs(oriented.astype(int) - shown.astype(int))
    assert difference.max() <= 16 and difference.mean() < 3
    assert _pillow_orientation(data) == orientation


def test_exif_written_by_pillow():
    """Pillow's own writer (big-endian here), the way the brief's recipe tags a photo."""
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    exif[ORIENTATION] = 8
    buffer = io.BytesIO()
    Image.fromarray(_pixels(24, 40)).save(buffer, "JPEG", exif=exif.tobytes())
    data = buffer.getvalue()
    assert decode_oriented(tf.constant(data)).shape == (40, 24, 3)
    assert int(exif_orientation(tf.constant(data))) == 8 == _pillow_orientation(data)


def test_multi_picture_jpeg():
    """Cameras' MPO files (Pillow's name for a JPEG with more pictures after it): the first
    picture's EXIF counts, and TF decodes the first picture."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    first, second = Image.fromarray(_pixels(24, 40)), Image.fromarray(_pixels(24, 40)[::-1].copy())
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second], exif=exif.tobytes())
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "MPO" and image.n_frames == 2
    assert int(exif_orientation(tf.constant(data))) == 6 == _pillow_orientation(data)
    assert decode_oriented(tf.constant(data)).shape == _client_displayed(data).shape == (40, 24, 3)


@pytest.mark.parametrize("orientation", [-1, 0, *range(1, 9), 9, 100])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_apply_orientation_is_pillows_transpose(orientation, channels):
    pixels = np.random.default_rng(channels).integers(0, 256, (5, 7, channels), np.uint8)
    carrier = Image.fromarray(pixels[..., 0] if channels == 1 else pixels)
    exif = Image.Exif()
    exif[ORIENTATION] = max(orientation, 0)  # a SHORT cannot hold -1; 0 is as invalid
    carrier.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(carrier))
    expected = expected[..., None] if channels == 1 else expected
    assert expected.shape[:2] == ((7, 5) if 5 <= orientation <= 8 else (5, 7))
    result = apply_orientation(tf.constant(pixels), tf.constant(orientation)).numpy()
    np.testing.assert_array_equal(result, expected)


def test_png_orientation_is_not_read_and_the_client_rule_agrees():
    """A PNG's eXIf chunk is ignored (module docstring): TF and the client rule show it as
    stored, although a bare exif_transpose would turn it, which is why clients gate on format."""
    pixels = _pixels(24, 40)
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    data = _png(pixels, exif.tobytes())
    np.testing.assert_array_equal(decode_oriented(tf.constant(data)).numpy(), pixels)
    np.testing.assert_array_equal(_client_displayed(data), pixels)
    assert int(exif_orientation(tf.constant(data))) == 1
    with Image.open(io.BytesIO(data)) as image:
        assert np.asarray(ImageOps.exif_transpose(image)).shape == (40, 24, 3)


def test_client_rule_is_exif_transpose_where_pillow_can_rewrite_the_exif():
    """The client rule and exif_transpose agree on ordinary EXIF; on EXIF Pillow reads but
    cannot write back (text in BitsPerSample), exif_transpose raises after deciding to turn,
    which is why the rule stops at the decision."""
    base = _jpeg(_pixels(24, 40))
    ordinary = _with_segments(base, [_app1_exif(_tiff(_camera_entries(6, False), False))])
    with Image.open(io.BytesIO(ordinary)) as image:
        np.testing.assert_array_equal(np.asarray(ImageOps.exif_transpose(image)), _client_displayed(ordinary))
    odd = _with_segments(
        base, [_app1_exif(_tiff([(ORIENTATION, SHORT, 1, b"\x06\x00"), (0x0102, ASCII, 5, b"17.1\x00")]))]
    )
    with Image.open(io.BytesIO(odd)) as image, pytest.raises(struct.error):
        ImageOps.exif_transpose(image)
    assert _client_displayed(odd).shape == (40, 24, 3)
    assert int(exif_orientation(tf.constant(odd))) == 6


# ---------------------------------------------------------------- the orientation number


def _edge_cases() -> List[Tuple[str, bytes]]:
    base = _jpeg(_pixels(16, 24))
    le = "<"

    def tagged(entries: Sequence[Entry], **kwargs) -> bytes:
        return _with_segments(base, [_app1_exif(_tiff(entries, **kwargs))])

    def orient(kind: int, count: int, value: Union[bytes, int]) -> Entry:
        return (ORIENTATION, kind, count, value)

    six = struct.pack(le + "H", 6)
    xmp = _segment(0xE1, XMP_HEADER + b'<x:xmpmeta><rdf:Description tiff:Orientation="8"/>')
    return [
        ("untagged", base),
        ("orientation LONG", tagged([orient(LONG, 1, struct.pack(le + "I", 6))])),
        ("orientation RATIONAL 12/2", tagged([orient(RATIONAL, 1, struct.pack(le + "II", 12, 2))])),
        ("orientation RATIONAL 6/0", tagged([orient(RATIONAL, 1, struct.pack(le + "II", 6, 0))])),
        ("orientation SRATIONAL -6/-1", tagged([orient(SRATIONAL, 1, struct.pack(le + "ii", -6, -1))])),
        ("orientation FLOAT 3.0", tagged([orient(FLOAT, 1, struct.pack(le + "f", 3.0))])),
        ("orientation FLOAT 3.5", tagged([orient(FLOAT, 1, struct.pack(le + "f", 3.5))])),
        ("orientation DOUBLE 5.0", tagged([orient(DOUBLE, 1, struct.pack(le + "d", 5.0))])),
        ("orientation BYTE", tagged([orient(BYTE, 1, b"\x06")])),
        ("orientation ASCII", tagged([orient(ASCII, 2, b"6\x00")])),
        ("orientation SHORT x3 out of line", tagged([orient(SHORT, 3, struct.pack(le + "HHH", 7, 1, 1))])),
        ("orientation SHORT x2 inline", tagged([orient(SHORT, 2, struct.pack(le + "HH", 3, 8))])),
        ("orientation count 0", tagged([orient(SHORT, 0, six)])),
        ("orientation unknown type", tagged([orient(14, 1, six)])),
        ("orientation 9", tagged([orient(SHORT, 1, struct.pack(le + "H", 9))])),
        ("duplicate: last wins", tagged([orient(SHORT, 1, six), orient(SHORT, 1, struct.pack(le + "H", 3))])),
        (
            "earlier entry's data out of range stops IFD0",
            tagged([(0x010F, ASCII, 40, 10**6), orient(SHORT, 1, six)]),
        ),
        ("out-of-range data after the tag", tagged([orient(SHORT, 1, six), (0x0110, ASCII, 40, 10**6)])),
        ("orientation data out of range", tagged([orient(SHORT, 3, 10**6)])),
        (
            "IFD0 offset out of range",
            tagged([orient(SHORT, 1, six)], ifd_offset=10**6, header=b"II*\x00" + struct.pack("<I", 10**6)),
        ),
        ("IFD0 declares more entries than there are", tagged([orient(SHORT, 1, six)], declared=40)),
        ("swapped TIFF magic II 0 *", tagged([orient(SHORT, 1, six)], header=b"II\x00*\x08\x00\x00\x00")),
        ("bad TIFF magic", tagged([orient(SHORT, 1, six)], header=b"XX*\x00\x08\x00\x00\x00")),
        ("BigTIFF magic, little-endian", tagged([orient(SHORT, 1, six)], header=b"II+\x00\x08\x00\x00\x00")),
        (
            "BigTIFF magic, big-endian, read as classic",
            tagged([orient(SHORT, 1, b"\x00\x06")], little=False, header=b"MM\x00+\x00\x00\x00\x08"),
        ),
        ("TIFF header cut short", _with_segments(base, [_segment(0xE1, b"Exif\x00\x00II*\x00\x08")])),
        ("empty EXIF, XMP says 8", _with_segments(base, [_segment(0xE1, b"Exif\x00\x00"), xmp])),
        ("XMP only", _with_segments(base, [xmp])),
        ("XMP element form", _with_segments(base, [_segment(0xE1, XMP_HEADER + b"<tiff:Orientation>5<")])),
        (
            "XMP ignored when EXIF has the tag",
            _with_segments(base, [xmp, _app1_exif(_tiff([orient(SHORT, 1, six)]))]),
        ),
        (
            "XMP used when EXIF lacks it",
            _with_segments(base, [_app1_exif(_tiff([(0x010F, ASCII, 2, b"A\x00")])), xmp]),
        ),
        ("bad TIFF magic hides XMP", _with_segments(base, [_segment(0xE1, b"Exif\x00\x00XXXXXXXX"), xmp])),
        (
            "doubled Exif header",
            _with_segments(base, [_segment(0xE1, b"Exif\x00\x00" * 2 + _tiff([orient(SHORT, 1, six)]))]),
        ),
        (
            "EXIF split over two segments",
            _with_segments(
                base,
                [
                    _app1_exif(_tiff([orient(SHORT, 1, six)])[:9]),
                    _app1_exif(_tiff([orient(SHORT, 1, six)])[9:]),
                ],
            ),
        ),
        (
            "FF padding, FF00 and junk before EXIF",
            base[:2] + b"\xff\xff\x00\x17\x17" + _app1_exif(_tiff([orient(SHORT, 1, six)])) + base[2:],
        ),
        (
            "comment and APP2 before EXIF",
            _with_segments(
                base,
                [
                    _segment(0xFE, b"hello"),
                    _segment(0xE2, b"ICC_PROFILE\x00" + b"\xff\xe1" * 30),
                    _app1_exif(_tiff([orient(SHORT, 1, six)])),
                ],
            ),
        ),
        (
            "EXIF after start of scan is not read",
            base[:-2] + _app1_exif(_tiff([orient(SHORT, 1, six)])) + base[-2:],
        ),
    ]


@pytest.mark.parametrize("name", [name for name, _ in _edge_cases()])
def test_orientation_edge_cases_match_pillow(name, orientations):
    data = dict(_edge_cases())[name]
    expected = _pillow_orientation(data)
    assert expected is not None, "Pillow should decode every edge case"
    assert orientations([data]) == [expected]


def test_edge_cases_are_not_all_trivial(orientations):
    """The edge cases exercise both answers: some turn the image, some must not."""
    results = orientations([data for _, data in _edge_cases()])
    assert sum(r == 1 for r in results) >= 10 and sum(r != 1 for r in results) >= 10


def _fuzz_entry(rng: random.Random, order: str) -> Entry:
    tag = rng.choice([ORIENTATION] * 5 + [0x010F, 0x0110, 0x8769, rng.randrange(1 << 16)])
    kind = rng.choice([SHORT] * 15 + list(range(0, 19)))
    count = rng.choice([1] * 6 + [0, 2, 3, rng.randrange(1 << 32)])
    roll = rng.random()
    if roll < 0.6:
        value: Union[bytes, int] = (
            struct.pack(order + "H", rng.choice([0, 1, 3, 5, 6, 8, 9, 256 + 6])) + b"\x00\x00"
        )
    elif roll < 0.8:
        value = bytes(rng.randrange(256) for _ in range(rng.choice([4, 8, 12])))
    else:
        value = rng.choice([0, 8, 20, 60, 200, 10**6, (1 << 32) - 1])
    return tag, kind, count, value


def _fuzz_jpeg(rng: random.Random, base: bytes) -> bytes:
    """A JPEG whose header is a random mix of well-formed and malformed EXIF and XMP."""
    segments = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        little = rng.random() < 0.5
        order = "<" if little else ">"
        entries = [_fuzz_entry(rng, order) for _ in range(rng.randrange(0, 6))]
        ifd_offset = rng.choice([8] * 8 + [0, 4, 9, 30, 70000])
        header = rng.choice([None] * 8 + [b"II\x00*", b"MM*\x00", b"II+\x00", b"MM\x00+", b"IM*\x00"])
        if header is not None:
            header += struct.pack(order + "I", ifd_offset)
        tiff = _tiff(
            entries,
            little,
            header=header,
            ifd_offset=ifd_offset,
            declared=rng.choice([None] * 6 + [0, 1, 7, 65535]),
        )
        if rng.random() < 0.2:
            tiff = tiff[: rng.randrange(len(tiff) + 1)]
        prefix = rng.choice([b"Exif\x00\x00"] * 8 + [b"Exif\x00\x00" * 2, b"Exif\x00", b"exif\x00\x00"])
        segments.append(_segment(0xE1, prefix + tiff))
        if rng.random() < 0.3:
            value = rng.choice(b"0123456789x")
            form = rng.choice([b'tiff:Orientation="%c"', b"<tiff:Orientation>%c<", b"tiff:Orientation=%c"])
            segments.insert(
                rng.randrange(len(segments) + 1),
                _segment(0xE1, XMP_HEADER + b"<a " + form % value + b" tiff:Orientation='3'"),
            )
        if rng.random() < 0.2:
            segments.insert(
                rng.randrange(len(segments) + 1),
                _segment(rng.choice([0xE2, 0xED, 0xFE]), b"\xff\xe1\x00\x10Exif\x00\x00"),
            )
        if rng.random() < 0.1:
            segments.insert(rng.randrange(len(segments) + 1), rng.choice([b"\xff\xff", b"\x00\x00", b"\xff"]))
    return _with_segments(base, segments, keep_app0=rng.random() < 0.5)


def test_differential_fuzz_against_pillow(orientations):
    """Seeded random malformed EXIF/XMP layouts: the same orientation as the client rule."""
    rng = random.Random(20240611)
    base = _jpeg(_pixels(8, 16))
    files = [_fuzz_jpeg(rng, base) for _ in range(1500)]
    results = orientations(files)
    compared = turned = 0
    for data, result in zip(files, results):
        expected = _pillow_orientation(data)
        if expected is None:
            assert 1 <= result <= 8
            continue
        compared += 1
        turned += expected != 1
        assert result == expected, data[:200]
    assert compared >= 1400 and turned >= 150  # not vacuous (seed 20240611: 1492 and 215)


def test_mutated_headers_against_pillow(orientations):
    """Random byte changes in a tagged header (markers, lengths, TIFF fields) still agree."""
    rng = random.Random(7)
    base = _with_segments(_jpeg(_pixels(8, 16)), [_app1_exif(_tiff(_camera_entries(6, False), False))])
    header_end = base.index(b"\xff\xda")
    files = []
    for _ in range(800):
        data = bytearray(base)
        for _ in range(rng.choice([1, 1, 2, 4])):
            data[rng.randrange(2, header_end)] = rng.choice(
                [0, 1, 2, 6, 0x12, 0xE1, 0xFF, rng.randrange(256)]
            )
        files.append(bytes(data))
    results = orientations(files)
    compared = 0
    for data, result in zip(files, results):
        expected = _pillow_orientation(data)
        assert 1 <= result <= 8
        if expected is not None:
            compared += 1
            assert result == expected, data[:200]
    assert compared >= 300


def test_garbage_never_raises(orientations):
    rng = random.Random(3)
    tagged = _with_segments(_jpeg(_pixels(8, 16)), [_app1_exif(_tiff(_camera_entries(6, True)))])
    header_end = tagged.index(b"\xff\xda") + 20
    files = [b"", b"\xff", b"\xff\xd8", b"\xff\xd8\xff", b"\xff\xd8\xff\xe1", b"\x89PNG\r\n\x1a\n"]
    files += [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400))) for _ in range(300)]
    files += [
        b"\xff\xd8\xff" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400))) for _ in range(300)
    ]
    files += [b"\xff\xd8" + b"\xff\xe1\xff\xff" * 20000]  # markers and lengths over the whole window
    files += [tagged[:cut] for cut in range(header_end)]  # every truncation of the header region
    results = orientations(files)
    assert all(1 <= r <= 8 for r in results)
    # Once the header is whole, a cut in the pixel data does not change the orientation.
    assert results[-1] == 6 and all(
        r == 6 for r, cut in zip(results[-header_end:], range(header_end)) if cut >= header_end - 20
    )


def test_scan_limit(orientations):
    """The documented bound: an EXIF segment that starts inside the first SCAN_BYTES is read
    whole, even where it runs past them; one that starts after them is not (Pillow reads it)."""
    base = _jpeg(_pixels(8, 16))
    exif = _app1_exif(_tiff(_camera_entries(6, True) + [(0x9286, 7, 60000, bytes(60000))]))

    def after_padding(length: int) -> bytes:
        fillers = []
        while length > 0:
            payload = min(length, 65533)
            fillers.append(_segment(0xE2, bytes(payload)))
            length -= payload + 4
        return _with_segments(base, fillers + [exif])

    inside = after_padding(SCAN_BYTES - 30000)
    beyond = after_padding(SCAN_BYTES + 100)
    assert inside.index(b"Exif") < SCAN_BYTES < inside.index(b"Exif") + len(exif)
    assert beyond.index(b"Exif") > SCAN_BYTES
    assert orientations([inside, beyond]) == [6, 1]
    assert _pillow_orientation(inside) == _pillow_orientation(beyond) == 6


# ---------------------------------------------------------------- the graph, as serving runs it


def _mixed_batch() -> List[bytes]:
    wide = _pixels(24, 40)
    exif8 = Image.Exif()
    exif8[ORIENTATION] = 8
    return [
        _with_segments(_jpeg(wide), [_app1_exif(_tiff(_camera_entries(6, True)))]),
        _jpeg(_pixels(30, 20)),
        _png(wide, exif8.tobytes()),
        _with_segments(_jpeg(wide), [_app1_exif(_tiff(_camera_entries(3, False), False))], keep_app0=False),
        _png(_pixels(10, 10)),
        _with_segments(_jpeg(wide), [_app1_exif(_tiff(_camera_entries(7, False), False))]),
    ]


def _preprocess(encoded: tf.Tensor):
    """What Transform's graph does per batch: decode as displayed, keep the size, resize."""

    def one(data):
        image = decode_oriented(data)
        return tf.shape(image)[:2], tf.image.resize(image, [16, 16])

    sizes, images = tf.map_fn(
        one,
        encoded,
        fn_output_signature=(tf.TensorSpec([2], tf.int32), tf.TensorSpec([16, 16, 3], tf.float32)),
    )
    return {"sizes": sizes, "images": images}


class _Preprocess(tf.Module):
    """_preprocess behind the [None] string signature a serving model exposes."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, encoded):
        return _preprocess(encoded)


def _expected(batch: Sequence[bytes]):
    shown = [decode_oriented(tf.constant(data)).numpy() for data in batch]
    sizes = np.array([image.shape[:2] for image in shown])
    images = np.stack([tf.image.resize(image, [16, 16]).numpy() for image in shown])
    return shown, sizes, images


def test_batch_in_a_tf_function():
    batch = _mixed_batch()
    shown, sizes, images = _expected(batch)
    assert [s.tolist() for s in sizes] == [[40, 24], [30, 20], [24, 40], [24, 40], [10, 10], [40, 24]]
    for data, image in zip(batch, shown):
        assert image.shape == _client_displayed(data).shape
    result = _Preprocess()(tf.constant(batch))
    np.testing.assert_array_equal(result["sizes"].numpy(), sizes)
    np.testing.assert_array_equal(result["images"].numpy(), images)


def test_saved_and_reloaded_module(tmp_path):
    module = _Preprocess()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.__call__})
    loaded = tf.saved_model.load(str(tmp_path))
    batch = _mixed_batch()
    _, sizes, images = _expected(batch)
    for result in (
        loaded(tf.constant(batch)),
        loaded.signatures["serving_default"](encoded=tf.constant(batch)),
    ):
        np.testing.assert_array_equal(result["sizes"].numpy(), sizes)
        np.testing.assert_array_equal(result["images"].numpy(), images)


@pytest.mark.slow  # runs TFT on Beam
@pytest.mark.parametrize("compat_v1", [False, True], ids=["tf2", "tf1-compat"])
def test_transform_analyzer_over_oriented_images(tmp_path, compat_v1):
    """TFT hashes the graph path into every analyzer, and cannot hash a Case op (tf.switch_case:
    "Unable to serialize op attributes that contain a `list.func` field"); the module uses none."""
    batch = _mixed_batch()
    _, sizes, images = _expected(batch)

    def preprocessing_fn(inputs):
        outputs = _preprocess(tf.reshape(inputs["image"], [-1]))
        return {
            "height": tf.cast(outputs["sizes"][:, 0], tf.int64),
            "mean": tf.fill([tf.shape(outputs["images"])[0]], tft.mean(outputs["images"])),
        }

    metadata = dataset_metadata.DatasetMetadata(
        schema_utils.schema_from_feature_spec({"image": tf.io.FixedLenFeature([1], tf.string)})
    )
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=compat_v1):
        (rows, _), _ = (
            [{"image": [data]} for data in batch],
            metadata,
        ) | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn)
    assert [row["height"] for row in rows] == sizes[:, 0].tolist()
    assert rows[0]["mean"] == pytest.approx(images.mean(), rel=1e-5)
