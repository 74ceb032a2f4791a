"""EXIF orientation in pure TensorFlow: the image as the user saw it, in every path that decodes one.

Phone cameras store the sensor's pixels as they were read out and put the rotation in the EXIF
Orientation tag (0x0112; 6 and 8 for a phone held upright). Viewers, browsers and annotation
tools show the rotated picture, so the masks users draw are in that displayed orientation, while
`tf.io.decode_jpeg` / `decode_image` ignore the tag. Every path that decodes an image must
therefore apply the same rotation, or masks and pixels disagree: the ExampleGen record check
(sizes), Transform's `preprocessing_fn`, and with it the `predict_images` signature that TF
Serving runs on raw bytes (so no Python may run: only graph ops, inside `tf.map_fn`, saved in a
SavedModel), and the clients, which use Pillow.

THE RULE (one rule, two implementations: this module, and Pillow on the client side)

- Only JPEGs (bytes starting FF D8 FF, which Pillow opens as "JPEG" or "MPO") carry an
  orientation. PNG, GIF and BMP images are used as stored, even when a PNG has an eXIf chunk.
  Pillow reads a PNG's orientation from four places (eXIf before or after the pixel data, a
  hex "Raw profile type exif" text chunk, XMP in an iTXt chunk), two of them zlib-compressed,
  which a graph cannot inflate without an op that raises on bad bytes; reading only some of
  them would silently disagree with Pillow. So clients turn JPEG and MPO images only (CLIENT
  RULE below).
- For a JPEG, the orientation is the one Pillow's `ImageOps.exif_transpose` uses (Pillow
  12.3), reproduced step by step; tests/trainer/test_orientation.py checks it against the
  installed Pillow, with a differential fuzz over malformed EXIF, so a Pillow upgrade that
  changes the reading shows up there:
  * segments are followed from the start of the file as Pillow's JPEG parser does (junk bytes
    skipped, FF FF padding, stand-alone markers, a length field below 2 read as 2), up to the
    start-of-scan marker;
  * every APP1 segment that starts "Exif\\0\\0" contributes its payload after that header, in
    file order (Pillow concatenates them), and any further leading "Exif\\0\\0" headers are
    stripped (some writers double them);
  * the TIFF header must start "II*\\0" or "MM\\0*" (or "II\\0*", "MM*\\0", "MM\\0+", which
    Pillow also reads as classic TIFF) and be 8 bytes long; otherwise Pillow raises while
    reading the EXIF, and the rule says 1 (the client must catch that error: see CLIENT RULE);
  * IFD0's 12-byte entries are read in order until the data ends; an entry of an unknown type
    or with no data is skipped; an entry whose out-of-line data lies past the end of the EXIF
    data ends the directory there (Pillow stops reading at that point); for a repeated tag the
    last entry counts;
  * the Orientation entry's first value counts when it is a number equal to 2..8, whatever its
    numeric type (SHORT as written by cameras; also LONG, signed, LONG8, FLOAT, DOUBLE and
    RATIONAL, since Pillow compares numbers); BYTE, ASCII and UNDEFINED values never match;
  * only when the EXIF holds no Orientation entry at all, the last XMP APP1 segment
    ("http://ns.adobe.com/xap/1.0/\\0") is searched for the first `tiff:Orientation="d` or
    `tiff:Orientation>d`;
  * any other value, no EXIF, no XMP, or bytes that are not a JPEG: 1, the image as stored.
- Bounded work, so that no request can make serving loop: markers are followed only in the
  first SCAN_BYTES (64 KiB) of the file; an EXIF or XMP segment that starts there is read whole
  (a segment is at most 64 KiB), and only the first TIFF_BYTES (64 KiB) of the EXIF data are
  read. Pillow reads on past these limits; the rule diverges from it only for a file whose
  EXIF segment starts after 64 KiB of other segments or whose IFD0 reaches past 64 KiB of
  EXIF data. Cameras write the EXIF segment first or right after JFIF's APP0, with IFD0 at
  its start.
- Never raises: any bytes at all (empty, random, truncated anywhere, offsets pointing
  anywhere) give a value in 1..8. Decoding itself still fails on an undecodable image, as
  `tf.io.decode_image` does.

CLIENT RULE (Pillow, serving/orientation.py): the decision `ImageOps.exif_transpose` makes,
without the EXIF rewrite it does afterwards (that rewrite raises struct.error for some EXIF
Pillow reads fine, such as text in a numeric TIFF tag, after the decision, so catching its
errors would lose the turn): on JPEG/MPO only, `image.getexif().get(Orientation, 1)` (1 when
Pillow cannot read the TIFF header), then exif_transpose's own transpose table. For any EXIF
Pillow can rewrite, that is exactly `ImageOps.exif_transpose(image)`.
"""

from typing import List, Tuple

import tensorflow as tf

SCAN_BYTES = 1 << 16  # segment markers are followed only this far into the file
TIFF_BYTES = 1 << 16  # bytes of the (concatenated) EXIF TIFF data that are read
MAX_EXIF_HEADERS = 8  # repeated leading "Exif\0\0" headers stripped, as Pillow does
ORIENTATION_TAG = 0x0112

_JPEG_START = (0xFF, 0xD8, 0xFF)
_EXIF_HEADER = b"Exif\x00\x00"
_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_KEY = "tiff:Orientation"
_PAD = 64  # zero bytes after each buffer, so that every read at a valid position stays inside
_FIRST_ROUNDS = 6  # pointer-doubling rounds for the first 64 steps (a phone JPEG's header: ~10)
_ALL_ROUNDS = 16  # every step advances at least one byte: 2^16 steps cover a 64 KiB window
# Big-endian values of the 4-byte TIFF headers Pillow accepts in EXIF, little-endian first.
_LITTLE_HEADERS = (0x49492A00, 0x4949002A)  # "II*\0", and "II\0*" which Pillow also takes
# "MM\0*", and "MM*\0" and BigTIFF's "MM\0+", which Pillow takes for classic TIFF (it looks for
# BigTIFF's 43 in the third byte, where big-endian files have 0). Little-endian BigTIFF,
# "II+\0", makes Pillow raise: an invalid header here.
_BIG_HEADERS = (0x4D4D002A, 0x4D4D2A00, 0x4D4D002B)
# Bytes per value of each TIFF field type Pillow can read (0: a type Pillow skips).
# 1 BYTE, 2 ASCII, 3 SHORT, 4 LONG, 5 RATIONAL, 6 SBYTE, 7 UNDEFINED, 8 SSHORT, 9 SLONG,
# 10 SRATIONAL, 11 FLOAT, 12 DOUBLE, 13 IFD, 16 LONG8.
_TYPE_BYTES = (0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8)
# Per orientation 1..8, Pillow's exif_transpose as (transpose, then flip rows, flip columns):
# 1 as stored, 2 mirrored, 3 rotated 180°, 4 flipped, 5 transposed, 6 rotated 90° clockwise,
# 7 transversed, 8 rotated 90° counter-clockwise.
_TURNS = (
    (False, False, False),
    (False, False, True),
    (False, True, True),
    (False, True, False),
    (True, False, False),
    (True, False, True),
    (True, True, True),
    (True, True, False),
)
# Which reader of _first_number each type uses; 0 for bytes, text and unknown types, which
# never equal a number in Pillow's lookup.
_TYPE_READER = (0, 0, 0, 1, 2, 3, 4, 0, 5, 6, 7, 8, 9, 2, 0, 0, 10)


@tf.function(input_signature=[tf.TensorSpec([], tf.string)])
def exif_orientation(encoded: tf.Tensor) -> tf.Tensor:
    """The EXIF orientation, 1..8, of one encoded image (a scalar tf.string), by the module's rule.

    Graph-safe and total: pure TensorFlow ops with bounded work, 1 for anything that is not a
    JPEG with a readable orientation, never an error, so it can run inside `tf.map_fn` in
    Transform and in the serving signature on whatever bytes a client sends. A tf.function so
    that eager callers (the record check, per record) run it as one graph: op by op, eager
    `decode_oriented` took 53 ms per tagged photo here, 5 ms with this traced.
    """
    head = tf.strings.substr(encoded, 0, SCAN_BYTES)
    is_jpeg = tf.equal(tf.strings.substr(head, 0, len(_JPEG_START)), bytes(_JPEG_START))

    def one() -> tf.Tensor:
        return tf.constant(1, tf.int32)

    def jpeg() -> tf.Tensor:
        # EXIF and XMP both live in APP1 segments, and an FF E1 pair cannot occur in
        # entropy-coded data: a JPEG without one in its window is answered without the walk
        # (a byte search instead of the vectorised parse: half the cost for untagged photos).
        has_app1 = tf.size(tf.strings.split(head, sep=b"\xff\xe1", maxsplit=1)) > 1
        return tf.cond(has_app1, lambda: _jpeg_orientation(encoded), one)

    return tf.cond(is_jpeg, jpeg, one)


def apply_orientation(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """The H×W×C image as displayed for an EXIF orientation (out-of-range values: unchanged).

    The eight cases are Pillow's transpositions in `ImageOps.exif_transpose`, so the client and
    the model agree pixel for pixel; 5..8 swap height and width, hence dynamic shapes. Written
    as a transpose and a reverse with data-dependent arguments rather than `tf.switch_case`:
    TFT cannot hash a graph path through a Case op (its `list.func` attribute) when an analyzer
    depends on it.
    """
    image = tf.convert_to_tensor(image)
    orientation = tf.cast(orientation, tf.int32)
    row = tf.where((orientation >= 1) & (orientation <= 8), orientation - 1, 0)
    turns = tf.gather(tf.constant(_TURNS), row)
    permutation = tf.where(turns[0], [1, 0, 2], [0, 1, 2])
    axes = tf.boolean_mask(tf.constant([0, 1]), turns[1:])
    turned = tf.transpose(image, permutation)  # the identity permutation passes the buffer on
    # ReverseV2 copies the image even with no axis to reverse (0.2 ms of CPU for a 500×375 photo).
    oriented = tf.cond(tf.size(axes) > 0, lambda: tf.reverse(turned, axes), lambda: turned)
    oriented.set_shape([None, None, image.shape[-1]])
    return oriented


def decode_oriented(encoded: tf.Tensor, channels: int = 3) -> tf.Tensor:
    """Decodes as `tf.io.decode_image(encoded, channels, expand_animations=False)` does (and
    fails where it fails), then turns the image as displayed: the one decoder for Transform,
    the ExampleGen record check and serving, so that all three see the same pixels.
    """
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    return apply_orientation(image, exif_orientation(encoded))


def _jpeg_orientation(encoded: tf.Tensor) -> tf.Tensor:
    """Finds the JPEG's segments, then reads the orientation from EXIF, else from XMP.

    `tf.cond` runs only the parsers whose data is there: no TIFF parse without EXIF, no XMP
    search when the EXIF has the tag.
    """
    total = tf.strings.length(encoded)
    limit = tf.minimum(total, SCAN_BYTES)
    window = tf.io.decode_raw(encoded, tf.uint8, fixed_length=SCAN_BYTES + _PAD)
    # The FF bytes from offset 2 (the FF after SOI, where Pillow starts) to the window's end
    # where Pillow can read a marker: it steps over FF FF (padding) and FF 00 (a stuffed byte,
    # so entropy-coded data adds almost none), then looks for the next FF, so the walk can go
    # straight to the next FF followed by anything else.
    after = window[3 : limit + 1]
    is_marker = tf.equal(window[2:limit], 0xFF) & tf.not_equal(after, 0xFF) & tf.not_equal(after, 0)
    positions = tf.cast(tf.where(is_marker)[:, 0], tf.int32) + 2
    exif, exif_length, xmp = _scan_segments(encoded, window, positions, total)
    tiff, tiff_length = _strip_exif_headers(exif, exif_length)

    def from_tiff() -> tf.Tensor:
        header_ok, has_tag, value = _tiff_orientation(tiff, tiff_length)
        return tf.cond(has_tag | ~header_ok, lambda: value, lambda: _xmp_orientation(xmp))

    return tf.cond(tiff_length > 0, from_tiff, lambda: _xmp_orientation(xmp))


def _scan_segments(
    encoded: tf.Tensor, window: tf.Tensor, positions: tf.Tensor, total: tf.Tensor
) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Follows the markers as Pillow's JpegImageFile._open does, up to start-of-scan.

    Returns the concatenated EXIF payloads (their first TIFF_BYTES and a few headers), their
    full length, and the last XMP packet. A tf.while_loop of one step per marker cost about
    50 µs a step here, inside tf.map_fn, so the walk is vectorised instead: from a marker,
    Pillow goes to the first marker position (`positions`) at or after the end of what it
    read there, so every position gets its successor at once, and the path from the first one
    is found by pointer doubling (after r rounds it holds the first 2^r steps).
    """
    count = tf.size(positions)
    head = tf.cast(tf.gather(window, positions[:, None] + tf.range(4)), tf.int32)
    marker = head[:, 1]
    payload_length = tf.maximum(head[:, 2] * 256 + head[:, 3] - 2, 0)  # Pillow reads < 0 as 0
    end = positions + 4 + payload_length
    standalone = (
        (marker == 0xC8) | ((marker >= 0xD0) & (marker <= 0xD9)) | ((marker >= 0xF0) & (marker <= 0xFD))
    )
    has_length = (marker >= 0xC0) & (marker <= 0xFE) & ~standalone
    complete = end <= total  # Pillow cannot open a file whose segment is cut short
    # Where Pillow reads next: past a stand-alone marker, or past a segment. It stops after
    # start-of-scan, and refuses any other marker or a segment cut short.
    next_pos = tf.where(standalone, positions + 2, end)
    last = ~(has_length | standalone) | (has_length & (~complete | tf.equal(marker, 0xDA)))
    successor = tf.where(last, count, tf.searchsorted(positions, next_pos, out_type=tf.int32))

    def double(on_path: tf.Tensor, jump: tf.Tensor, rounds: int):
        for _ in range(rounds):
            on_path = tf.maximum(on_path, tf.math.unsorted_segment_max(on_path, jump, count + 1))
            jump = tf.gather(jump, jump)
        return on_path, jump

    # Node `count` is the end, its own successor; node 0 (offset 2) is where Pillow starts.
    on_path, jump = double(
        tf.one_hot(0, count + 1, dtype=tf.int32), tf.concat([successor, [count]], 0), _FIRST_ROUNDS
    )
    on_path = tf.cond(
        jump[0] < count, lambda: double(on_path, jump, _ALL_ROUNDS - _FIRST_ROUNDS)[0], lambda: on_path
    )
    # The payload's first bytes, read only for the APP1 segments on the path.
    app1 = tf.equal(on_path[:count], 1) & has_length & complete & tf.equal(marker, 0xE1)
    starts = tf.boolean_mask(positions, app1) + 4
    lengths = tf.boolean_mask(payload_length, app1)
    payload = tf.cast(tf.gather(window, starts[:, None] + tf.range(len(_XMP_HEADER))), tf.int32)
    is_exif = (lengths >= len(_EXIF_HEADER)) & tf.reduce_all(
        tf.equal(payload[:, : len(_EXIF_HEADER)], tf.constant(list(_EXIF_HEADER), tf.int32)), axis=1
    )
    is_xmp = (lengths >= len(_XMP_HEADER)) & tf.reduce_all(
        tf.equal(payload, tf.constant(list(_XMP_HEADER), tf.int32)), axis=1
    )
    exif_lengths = tf.boolean_mask(lengths - len(_EXIF_HEADER), is_exif)
    pieces = tf.strings.substr(encoded, tf.boolean_mask(starts + len(_EXIF_HEADER), is_exif), exif_lengths)
    keep = TIFF_BYTES + MAX_EXIF_HEADERS * len(_EXIF_HEADER)
    exif = tf.strings.substr(tf.strings.reduce_join(pieces), 0, keep)
    # The last XMP segment, or (the appended zeros) an empty string.
    last_xmp = tf.reduce_max(tf.where(is_xmp, tf.range(tf.size(lengths)), -1))
    last_xmp = tf.where(last_xmp >= 0, last_xmp, tf.size(lengths))
    xmp_start = tf.gather(tf.concat([starts + len(_XMP_HEADER), [0]], 0), last_xmp)
    xmp_length = tf.gather(tf.concat([lengths - len(_XMP_HEADER), [0]], 0), last_xmp)
    return exif, tf.reduce_sum(exif_lengths), tf.strings.substr(encoded, xmp_start, xmp_length)


def _strip_exif_headers(exif: tf.Tensor, length: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """Drops repeated leading "Exif\\0\\0" headers, as Pillow's Exif.load does."""
    size = len(_EXIF_HEADER)
    blocks = tf.reshape(
        tf.io.decode_raw(exif, tf.uint8, fixed_length=size * MAX_EXIF_HEADERS), [MAX_EXIF_HEADERS, size]
    )
    matches = tf.reduce_all(tf.equal(blocks, tf.constant(list(_EXIF_HEADER), tf.uint8)), axis=1)
    matches &= (tf.range(MAX_EXIF_HEADERS) + 1) * size <= length  # padding is not a header
    headers = tf.reduce_sum(tf.math.cumprod(tf.cast(matches, tf.int32)))
    return tf.strings.substr(exif, headers * size, TIFF_BYTES), length - headers * size


def _tiff_orientation(tiff: tf.Tensor, length: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(header valid, IFD0 has an Orientation entry, its value if 2..8 else 1), as Pillow reads it.

    Vectorised over IFD0's entries, and every index is clipped into the zero-padded buffer,
    so garbage offsets read zeros instead of failing a gather.
    """
    data = tf.io.decode_raw(tiff, tf.uint8, fixed_length=TIFF_BYTES + _PAD)
    length = tf.cast(length, tf.int64)
    readable = tf.minimum(length, TIFF_BYTES)
    head = tf.cast(data[:8], tf.int64)
    magic = tf.reduce_sum(head[:4] * tf.constant([1 << 24, 1 << 16, 1 << 8, 1], tf.int64))
    little = tf.reduce_any(tf.equal(magic, tf.constant(_LITTLE_HEADERS, tf.int64)))
    header_ok = (little | tf.reduce_any(tf.equal(magic, tf.constant(_BIG_HEADERS, tf.int64)))) & (length >= 8)

    def read(position: tf.Tensor, size: int) -> tf.Tensor:
        index = tf.clip_by_value(position + tf.range(size, dtype=tf.int64), 0, TIFF_BYTES + _PAD - 1)
        return tf.cast(tf.gather(data, index), tf.int64)

    ifd = _unsigned(head[4:8], little)
    count = tf.where(ifd + 2 <= readable, _unsigned(read(ifd, 2), little), 0)
    entries = tf.minimum(count, tf.maximum((readable - ifd - 2) // 12, 0))
    index = tf.range(entries)
    starts = ifd + 2 + 12 * index
    block = tf.cast(
        tf.gather(
            data, tf.clip_by_value(starts[:, None] + tf.range(12, dtype=tf.int64), 0, TIFF_BYTES + _PAD - 1)
        ),
        tf.int64,
    )
    fields = tf.matmul(
        block,
        tf.where(little, tf.constant(_FIELD_WEIGHTS[0], tf.int64), tf.constant(_FIELD_WEIGHTS[1], tf.int64)),
    )
    tag, kind, values, offset = fields[:, 0], fields[:, 1], fields[:, 2], fields[:, 3]
    kind = tf.where(kind < len(_TYPE_BYTES), kind, 0)
    size = values * tf.gather(tf.constant(_TYPE_BYTES, tf.int64), kind)
    # Pillow skips an unknown type or an empty value, and stops at out-of-line data past the end.
    ends_directory = (size > 4) & (offset + size > length)
    first_end = tf.reduce_min(tf.where(ends_directory, index, entries))
    is_orientation = (index < first_end) & (size > 0) & tf.equal(tag, ORIENTATION_TAG)
    has_tag = header_ok & tf.reduce_any(is_orientation)
    last = tf.reduce_max(tf.where(is_orientation, index, -1))
    pick = tf.where(last >= 0, last, entries)  # `entries`: the zero appended below

    def at(column: tf.Tensor) -> tf.Tensor:
        return tf.gather(tf.concat([column, [0]], 0), pick)

    position = tf.where(at(size) > 4, at(offset), at(starts) + 8)
    data8 = read(position, 8)
    value, exact = tf.cond(  # a camera's SHORT: skip the other types' arithmetic (11% of the CPU)
        tf.equal(at(kind), 3),
        lambda: (_unsigned(data8[:2], little), tf.constant(True)),
        lambda: _first_number(data8, at(kind), little),
    )
    in_reach = position + tf.minimum(at(size), 8) <= readable
    valid = has_tag & exact & in_reach & (value >= 2) & (value <= 8)
    return header_ok, has_tag, tf.cast(tf.where(valid, value, 1), tf.int32)


def _field_weights(little: bool) -> List[List[int]]:
    """12×4 matrix turning an IFD entry's bytes into (tag, type, count, value-or-offset)."""
    weights = [[0] * 4 for _ in range(12)]
    for column, (start, size) in enumerate(((0, 2), (2, 2), (4, 4), (8, 4))):
        for k in range(size):
            weights[start + k][column] = 256 ** (k if little else size - 1 - k)
    return weights


_FIELD_WEIGHTS = (_field_weights(True), _field_weights(False))


def _unsigned(data: tf.Tensor, little: tf.Tensor) -> tf.Tensor:
    """The unsigned integer in a short vector of int64 bytes, in the TIFF's byte order."""
    size = int(data.shape[0])
    powers = tf.constant([256**k for k in range(size)], tf.int64)
    return tf.reduce_sum(data * tf.where(little, powers, tf.reverse(powers, [0])))


def _first_number(data: tf.Tensor, kind: tf.Tensor, little: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """The first value of a TIFF field (its first 8 bytes, `data`) as an integer, and whether
    the value is exactly that integer, for every type at once, then the field's type picks.
    Straight-line ops rather than `tf.switch_case`, for TFT's sake (see apply_orientation)."""

    def signed(value: tf.Tensor, bits: int) -> tf.Tensor:
        return tf.where(value >= 2 ** (bits - 1), value - 2**bits, value)

    def ratio(top: tf.Tensor, bottom: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        safe = tf.where(tf.equal(bottom, 0), tf.ones_like(bottom), bottom)
        return top // safe, tf.not_equal(bottom, 0) & tf.equal(top % safe, 0)

    def real(number: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        exact = tf.math.is_finite(number) & tf.equal(number, tf.round(number)) & (tf.abs(number) < 2**31)
        return tf.cast(tf.where(exact, number, 0), tf.int64), exact

    byte = data[0]
    short, first, second = tf.unstack(
        tf.linalg.matvec(
            tf.where(
                little, tf.constant(_WORD_WEIGHTS[0], tf.int64), tf.constant(_WORD_WEIGHTS[1], tf.int64)
            ),
            data,
        )
    )
    high, low = tf.where(little, second, first), tf.where(little, first, second)
    bits = tf.bitwise.bitwise_or(
        tf.bitwise.left_shift(tf.cast(high, tf.uint64), tf.constant(32, tf.uint64)), tf.cast(low, tf.uint64)
    )
    single, single_exact = real(tf.bitcast(tf.cast(first, tf.uint32), tf.float32))
    double, double_exact = real(tf.bitcast(bits, tf.float64))
    rational, rational_exact = ratio(first, second)
    signed_rational, signed_rational_exact = ratio(signed(first, 32), signed(second, 32))
    true, false, zero = tf.constant(True), tf.constant(False), tf.constant(0, tf.int64)
    readers = [  # indexed by _TYPE_READER
        (zero, false),  # bytes, text, unknown
        (short, true),  # SHORT
        (first, true),  # LONG, IFD
        (rational, rational_exact),  # RATIONAL
        (signed(byte, 8), true),  # SBYTE
        (signed(short, 16), true),  # SSHORT
        (signed(first, 32), true),  # SLONG
        (signed_rational, signed_rational_exact),  # SRATIONAL
        (single, single_exact),  # FLOAT
        (double, double_exact),  # DOUBLE
        (low, tf.equal(high, 0)),  # LONG8
    ]
    reader = tf.gather(tf.constant(_TYPE_READER), kind)
    return (
        tf.gather(tf.stack([value for value, _ in readers]), reader),
        tf.gather(tf.stack([exact for _, exact in readers]), reader),
    )


def _word_weights(little: bool) -> List[List[int]]:
    """3×8 matrix turning 8 bytes into the unsigned 16-bit word at 0 and 32-bit words at 0, 4."""
    weights = [[0] * 8 for _ in range(3)]
    for row, (start, size) in enumerate(((0, 2), (0, 4), (4, 4))):
        for k in range(size):
            weights[row][start + k] = 256 ** (k if little else size - 1 - k)
    return weights


_WORD_WEIGHTS = (_word_weights(True), _word_weights(False))


def _xmp_orientation(xmp: tf.Tensor) -> tf.Tensor:
    """The first `tiff:Orientation="d` or `tiff:Orientation>d` in an XMP packet, if 2..8, else 1.

    Splitting at the key finds every occurrence left to right (the key cannot overlap itself),
    so the first piece that starts `="d` or `>d` is the match Pillow's re.search finds.
    """
    pieces = tf.strings.split(xmp, sep=_XMP_KEY)[1:]
    after = tf.reshape(tf.cast(tf.io.decode_raw(pieces, tf.uint8, fixed_length=3), tf.int32), [-1, 3])

    def digit(column: tf.Tensor) -> tf.Tensor:
        return (column >= ord("0")) & (column <= ord("9"))

    quoted = tf.equal(after[:, 0], ord("=")) & tf.equal(after[:, 1], ord('"')) & digit(after[:, 2])
    tagged = tf.equal(after[:, 0], ord(">")) & digit(after[:, 1])
    values = tf.where(quoted, after[:, 2], after[:, 1]) - ord("0")
    found = tf.concat([quoted | tagged, [True]], 0)  # a last "match" of 1 when none is found
    first = tf.reduce_min(tf.where(found, tf.range(tf.size(found)), tf.size(found)))
    value = tf.gather(tf.concat([values, [1]], 0), first)
    return tf.where((value >= 2) & (value <= 8), value, 1)
