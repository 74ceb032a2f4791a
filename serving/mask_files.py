"""The files `segpipe predict` writes for each image, and the class shares it prints.

`<stem>_mask.png`, the class map at the image's own size: a palette ("P" mode) PNG whose pixel
values ARE the class ids (0 pet, 1 background, 2 border, as in contract/datasets.py).
Programs get the map back with `np.array(Image.open(path))`; image viewers show the palette's
colours (pet orange, background blue, border yellow) instead of a near-black picture of 0-2 greys.

`<stem>_overlay.png`: the image in RGB with each pixel's class colour blended over it at
alpha 0.5, the same colours as the mask.
"""

import io
from typing import List

import numpy as np
from PIL import Image

from contract.datasets import CLASS_NAMES
from serving.colors import CLASS_COLORS, overlay
from serving.orientation import displayed

OVERLAY_ALPHA = 0.5


def class_shares(class_map: np.ndarray) -> List[float]:
    """The fraction of the map's pixels in each class, in CLASS_NAMES order."""
    counts = np.bincount(class_map.ravel(), minlength=len(CLASS_NAMES))
    return (counts / class_map.size).tolist()


def describe_shares(class_map: np.ndarray) -> str:
    """'pet 31.2%, background 61.0%, border 7.8%'."""
    return ", ".join(
        f"{name} {100 * share:.1f}%" for name, share in zip(CLASS_NAMES, class_shares(class_map))
    )


def write_mask(class_map: np.ndarray, path: str) -> None:
    """Writes the class map as the palette PNG described above."""
    _mask_image(class_map).save(path, format="PNG")


def write_overlay(image_bytes: bytes, class_map: np.ndarray, path: str) -> None:
    """Writes the image with the class colours blended over it; ValueError if the map's size is
    not the image's (the model decoded it differently from Pillow)."""
    image = displayed_rgb(image_bytes)
    if image.size != (class_map.shape[1], class_map.shape[0]):
        raise ValueError(
            f"the model's map is {class_map.shape[1]}x{class_map.shape[0]}, "
            f"the image {image.size[0]}x{image.size[1]}"
        )
    Image.fromarray(overlay(np.asarray(image), class_map, OVERLAY_ALPHA)).save(path, format="PNG")


def _mask_image(class_map: np.ndarray) -> Image.Image:
    height, width = class_map.shape
    image = Image.frombytes("P", (width, height), class_map.astype(np.uint8).tobytes())
    image.putpalette(CLASS_COLORS.reshape(-1).tolist())
    return image


def displayed_rgb(image_bytes: bytes) -> Image.Image:
    """The image as displayed (its EXIF orientation applied, as the model applies it), in 8-bit
    RGB, transparency dropped as the model's decoder drops it: what overlays are drawn on, and
    what `segpipe predict --tflite` resizes for the phone model, as an app would."""
    with Image.open(io.BytesIO(image_bytes)) as opened:
        opened.load()
        image = displayed(opened)
        if image.mode.startswith("I"):
            # 16-bit greyscale PNG: Pillow's own conversion clips at 255 (a white picture);
            # keep the top 8 bits, as an 8-bit decoder does.
            grey = np.clip(np.asarray(image).astype(np.int64) >> 8, 0, 255).astype(np.uint8)
            return Image.fromarray(grey).convert("RGB")
        if "transparency" in image.info or image.mode in ("PA", "LA"):
            image = image.convert("RGBA")  # Pillow warns converting these straight to RGB
        return image.convert("RGB")
