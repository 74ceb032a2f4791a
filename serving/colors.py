"""Class colours and mask overlays, shared by `segpipe predict` and the evaluation report.

numpy only, so that serving code can colour a predicted class map without pulling in matplotlib.
Class ids are the Transform's: 0 = pet, 1 = background, 2 = border.
"""

from __future__ import annotations

import numpy as np

# Okabe-Ito colours (readable with the common colour-vision deficiencies), indexed by class id:
# pet vermillion, background blue, border yellow; the thin border band needs the brightest one.
CLASS_COLORS: np.ndarray = np.array(
    [
        (213, 94, 0),  # pet
        (0, 114, 178),  # background
        (240, 228, 66),  # border
    ],
    dtype=np.uint8,
)
CLASS_COLORS.setflags(write=False)


def colorize(classes: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 picture of an H×W class map, one CLASS_COLORS colour per class id."""
    classes = np.asarray(classes)
    if classes.ndim != 2 or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(f"classes must be an H×W integer array, got {classes.dtype} {classes.shape}")
    if classes.size and (classes.min() < 0 or classes.max() >= len(CLASS_COLORS)):
        raise ValueError(
            f"class ids must lie in 0..{len(CLASS_COLORS) - 1}, got {classes.min()}..{classes.max()}"
        )
    return CLASS_COLORS[classes]


def overlay(image: np.ndarray, classes: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The image with each pixel blended towards its class colour (0 = image only, 1 = colours only).

    Returns a new H×W×3 uint8 array; raises ValueError on mismatched shapes or unknown class ids
    rather than silently colouring the wrong pixels.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an H×W×3 uint8 array, got {image.dtype} {image.shape}")
    if np.shape(classes) != image.shape[:2]:
        raise ValueError(f"classes {np.shape(classes)} do not match image {image.shape[:2]}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    blended = (1.0 - alpha) * image + alpha * colorize(classes).astype(np.float32)
    return np.rint(blended).astype(np.uint8)
