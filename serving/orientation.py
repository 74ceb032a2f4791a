"""The client side of EXIF orientation: a photo as displayed, with Pillow.

The exported model turns every JPEG as displayed (its EXIF orientation applied inside the
graph, trainer/orientation.py), so the class map `predict_images` returns has the photo's
displayed size. Clients that draw that map over the photo, or size a batch, must see the photo
the same way: this is the rule's Pillow half, the decision `ImageOps.exif_transpose` makes,
without the EXIF rewrite it does afterwards (which raises for some EXIF Pillow reads fine).
Only JPEGs carry an orientation (PNGs are used as stored, as the model does);
tests/trainer/test_orientation.py checks both halves agree.
"""

import struct

from PIL import ExifTags, Image

# ImageOps.exif_transpose's own table: orientation -> the transpose that shows the photo upright.
EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Orientations that swap width and height (a photo taken with the phone upright).
SWAPS_SIDES = frozenset({5, 6, 7, 8})


def orientation_of(image: Image.Image) -> int:
    """The EXIF orientation the model applies to this opened image: 1..8 (1 = as stored)."""
    if image.format not in ("JPEG", "MPO"):
        return 1
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except (SyntaxError, struct.error):  # a TIFF header Pillow cannot read: as stored
        return 1
    return orientation if orientation in EXIF_TRANSPOSE else 1


def displayed(image: Image.Image) -> Image.Image:
    """The opened (and loaded) image turned as displayed; call before convert(), which drops
    the format the rule depends on."""
    method = EXIF_TRANSPOSE.get(orientation_of(image))
    return image.transpose(method) if method is not None else image
