"""Deterministic synthetic stand-in for the Oxford-IIIT Pet dataset, in its exact on-disk layout.

The real dataset (773 MiB from the Oxford site) cannot be downloaded here, so `write_dataset`
renders cats and dogs on cluttered backgrounds and writes them where TFDS's `oxford_iiit_pet`
builder looks (see `contract.oxford_pets`). The builder then runs unchanged, offline.

The images are meant to be learnable but not trivial, so that a segmentation model's metrics mean
something:
- species differ in shape (cats: round head, pointed ears, slim body, long tail; dogs: muzzle,
  hanging ears, bulky body, thick legs) and breeds in fur palette and pattern (solid, tabby
  stripes, spots, patches, colour points), with fur-strand noise and shading;
- backgrounds have gradients, a floor, texture and clutter, some of it in fur colours, and some
  clutter occludes the pet (and is cut out of its mask), so colour alone does not segment it;
- image size, aspect ratio, pet scale, position, rotation and facing vary, pets may be cut by the
  image border, and JPEG quality varies between 55 and 95.

Each image is drawn from its own random generator seeded by (seed, split, index), so the same
seed gives byte-identical files and n_train does not change the test images. numpy and PIL only.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from contract import oxford_pets as layout

RGB = tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class Style:
    """How the photos are taken: image sizes, how much of the frame the pet fills, JPEG quality,
    and how wide the trimap's border band is (the real trimaps' band is a few pixels wide)."""

    min_side: int = 160
    max_side: int = 420
    min_aspect: float = 0.6
    max_aspect: float = 1.7
    min_pet_area: float = 0.15
    max_pet_area: float = 0.70
    min_jpeg_quality: int = 55
    max_jpeg_quality: int = 95
    border_radius: int = 2


# "default" is the built-in dataset. "alternate" draws differently (larger photos, smaller and
# larger pets, harsher JPEG, a wider border band), for checking that what a model learned, and
# what a recipe gained, is not a quirk of the default drawing.
STYLES = {
    "default": Style(),
    "alternate": Style(
        min_side=240,
        max_side=560,
        min_aspect=0.5,
        max_aspect=2.0,
        min_pet_area=0.08,
        max_pet_area=0.85,
        min_jpeg_quality=35,
        max_jpeg_quality=80,
        border_radius=3,
    ),
}
_SPLIT_CODES = {"train": 0, "test": 1}
# Smooth background components are computed at 1/_LOW_RES of the final resolution.
_LOW_RES = 4


@dataclasses.dataclass(frozen=True)
class _Look:
    """A breed's fur: main colour, pattern colour, pattern kind and fur-strand contrast."""

    base: RGB
    secondary: RGB
    pattern: str  # one of "solid", "tabby", "spots", "patches", "points"
    strands: float


_LOOKS: dict[str, _Look] = {
    "Abyssinian": _Look((178, 112, 62), (120, 72, 40), "tabby", 0.10),
    "american_bulldog": _Look((232, 226, 218), (150, 100, 62), "patches", 0.05),
    "american_pit_bull_terrier": _Look((140, 104, 78), (228, 220, 210), "patches", 0.05),
    "basset_hound": _Look((228, 220, 208), (140, 80, 40), "patches", 0.06),
    "beagle": _Look((196, 138, 78), (44, 34, 28), "patches", 0.06),
    "Bengal": _Look((204, 152, 84), (70, 46, 26), "spots", 0.08),
    "Birman": _Look((230, 220, 198), (104, 82, 62), "points", 0.14),
    "Bombay": _Look((32, 30, 32), (60, 56, 54), "solid", 0.08),
    "boxer": _Look((190, 128, 70), (240, 236, 230), "points", 0.04),
    "British_Shorthair": _Look((128, 134, 146), (100, 104, 114), "solid", 0.08),
    "chihuahua": _Look((212, 172, 122), (150, 110, 70), "solid", 0.05),
    "Egyptian_Mau": _Look((184, 182, 170), (62, 60, 58), "spots", 0.08),
    "english_cocker_spaniel": _Look((188, 118, 52), (150, 86, 36), "solid", 0.15),
    "english_setter": _Look((236, 234, 228), (64, 52, 46), "spots", 0.12),
    "german_shorthaired": _Look((112, 72, 52), (222, 216, 210), "spots", 0.05),
    "great_pyrenees": _Look((240, 238, 230), (214, 206, 186), "solid", 0.14),
    "havanese": _Look((222, 202, 170), (150, 120, 90), "patches", 0.16),
    "japanese_chin": _Look((238, 236, 232), (36, 32, 30), "patches", 0.14),
    "keeshond": _Look((152, 150, 144), (52, 50, 48), "tabby", 0.16),
    "leonberger": _Look((172, 122, 62), (70, 50, 36), "points", 0.16),
    "Maine_Coon": _Look((142, 102, 62), (60, 40, 26), "tabby", 0.16),
    "miniature_pinscher": _Look((40, 30, 30), (172, 102, 52), "points", 0.04),
    "newfoundland": _Look((30, 28, 28), (54, 46, 42), "solid", 0.16),
    "Persian": _Look((236, 230, 220), (200, 186, 168), "solid", 0.18),
    "pomeranian": _Look((222, 152, 72), (240, 200, 140), "solid", 0.18),
    "pug": _Look((212, 182, 132), (40, 36, 32), "points", 0.04),
    "Ragdoll": _Look((226, 220, 210), (120, 108, 98), "points", 0.16),
    "Russian_Blue": _Look((110, 116, 130), (90, 94, 108), "solid", 0.07),
    "saint_bernard": _Look((238, 232, 224), (152, 72, 40), "patches", 0.10),
    "samoyed": _Look((246, 244, 240), (220, 216, 206), "solid", 0.18),
    "scottish_terrier": _Look((36, 36, 36), (70, 66, 62), "solid", 0.16),
    "shiba_inu": _Look((210, 130, 62), (240, 226, 200), "points", 0.07),
    "Siamese": _Look((226, 210, 182), (72, 52, 42), "points", 0.06),
    "Sphynx": _Look((222, 172, 150), (172, 122, 112), "patches", 0.03),
    "staffordshire_bull_terrier": _Look((122, 82, 52), (60, 40, 26), "tabby", 0.04),
    "wheaten_terrier": _Look((226, 202, 152), (200, 170, 120), "solid", 0.16),
    "yorkshire_terrier": _Look((112, 104, 100), (192, 142, 82), "points", 0.16),
}


@dataclasses.dataclass(frozen=True)
class _BodyPlan:
    """A breed's proportions, in units of body length (x forward to the head, y down)."""

    body_ry: float
    head_r: float
    ear_len: float
    leg_len: float
    leg_w: float
    tail_len: float
    tail_w: float
    muzzle_len: float  # dogs only; 0 for cats


@functools.cache
def _body_plan(class_id: int) -> _BodyPlan:
    """Proportions of a breed, drawn once from a generator seeded by the class id.

    Ranges are species-specific so that shape tells cats from dogs, while breeds of a species
    differ in detail (body depth, leg length, ear, tail and muzzle size).
    """
    r = np.random.default_rng(7919 * class_id)
    if layout.species_of(class_id) == layout.SPECIES_CAT:
        return _BodyPlan(
            body_ry=r.uniform(0.13, 0.17),
            head_r=r.uniform(0.14, 0.17),
            ear_len=r.uniform(0.6, 0.9),
            leg_len=r.uniform(0.28, 0.36),
            leg_w=r.uniform(0.045, 0.06),
            tail_len=r.uniform(0.8, 1.1),
            tail_w=r.uniform(0.035, 0.05),
            muzzle_len=0.0,
        )
    return _BodyPlan(
        body_ry=r.uniform(0.19, 0.26),
        head_r=r.uniform(0.13, 0.16),
        ear_len=r.uniform(0.10, 0.17),
        leg_len=r.uniform(0.34, 0.48),
        leg_w=r.uniform(0.08, 0.11),
        tail_len=r.uniform(0.25, 0.5),
        tail_w=r.uniform(0.05, 0.07),
        muzzle_len=r.uniform(0.10, 0.22),
    )


@dataclasses.dataclass
class _Pet:
    """A pet's parts in local units: filled polygons, thick polylines (with widths) and anchors."""

    polygons: dict[str, list[np.ndarray]]  # body, neck, head, face, ears
    lines: dict[str, list[tuple[np.ndarray, float]]]  # legs, tail
    eye: np.ndarray  # eye centre
    eye_size: float
    nose: np.ndarray  # nose centre
    nose_size: float


def _ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 28) -> np.ndarray:
    """Polygon approximating a rotated ellipse, so all parts can go through one affine transform."""
    t = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


def _cat(plan: _BodyPlan, rng: np.random.Generator) -> _Pet:
    """Cat: slim body, round head with two pointed triangular ears, thin legs, long curved tail."""
    r = plan.head_r
    hc = np.array([0.50, -0.20])
    ears = []
    for angle in (-0.45 + rng.normal(0, 0.08), 0.35 + rng.normal(0, 0.08)):
        base = [hc + 0.95 * r * np.array([math.sin(a), -math.cos(a)]) for a in (angle - 0.33, angle + 0.33)]
        apex = hc + r * (1.0 + plan.ear_len) * np.array([math.sin(angle), -math.cos(angle)])
        ears.append(np.array([base[0], apex, base[1]]))
    t = np.linspace(0.0, 1.0, 9)[:, None]
    curl = rng.uniform(0.3, 0.8)
    tail = np.array([-0.38, -0.04]) + plan.tail_len * np.hstack([-0.45 * t, -curl * t**2 + 0.12 * t])
    return _Pet(
        polygons={
            "body": [_ellipse(0.0, 0.0, 0.42, plan.body_ry)],
            "neck": [np.array([[0.28, -0.10], [0.44, -0.27], [0.56, -0.12], [0.38, 0.05]])],
            "head": [_ellipse(hc[0], hc[1], r, r * 0.95)],
            "face": [_ellipse(hc[0] + 0.45 * r, hc[1] + 0.25 * r, 0.6 * r, 0.5 * r)],
            "ears": ears,
        },
        lines={"legs": _legs(plan, (-0.30, -0.21, 0.23, 0.32), rng), "tail": [(tail, plan.tail_w)]},
        eye=hc + np.array([0.45 * r, -0.15 * r]),
        eye_size=0.17 * r,
        nose=hc + np.array([0.93 * r, 0.22 * r]),
        nose_size=0.09 * r,
    )


def _dog(plan: _BodyPlan, rng: np.random.Generator) -> _Pet:
    """Dog: bulky body, head with a forward muzzle and hanging ears, thick legs, short tail."""
    r = plan.head_r
    hc = np.array([0.50, -0.26])
    mx = hc[0] + 0.6 * r + plan.muzzle_len / 2
    my = hc[1] + 0.35 * r
    m_rx, m_ry = plan.muzzle_len / 2 + 0.03, 0.45 * r
    ear_ry = 0.5 * plan.ear_len + 0.35 * r
    ears = [
        _ellipse(hc[0] - 0.55 * r, hc[1] + 0.35 * r, 0.4 * r, ear_ry, rng.uniform(0.1, 0.4)),
        _ellipse(hc[0] + 0.25 * r, hc[1] + 0.25 * r, 0.3 * r, 0.8 * ear_ry, rng.uniform(-0.3, 0.0)),
    ]
    t = np.linspace(0.0, 1.0, 6)[:, None]
    tail = np.array([-0.42, -0.08]) + plan.tail_len * np.hstack([-0.5 * t - 0.2 * t**2, -0.85 * t])
    return _Pet(
        polygons={
            "body": [_ellipse(0.0, 0.0, 0.45, plan.body_ry)],
            "neck": [np.array([[0.25, -0.15], [0.42, -0.35], [0.58, -0.18], [0.40, 0.08]])],
            "head": [_ellipse(hc[0], hc[1], 1.05 * r, r)],
            "face": [_ellipse(mx, my, m_rx, m_ry)],
            "ears": ears,
        },
        lines={"legs": _legs(plan, (-0.33, -0.24, 0.25, 0.34), rng), "tail": [(tail, plan.tail_w)]},
        eye=hc + np.array([0.45 * r, -0.2 * r]),
        eye_size=0.14 * r,
        nose=np.array([mx + 0.8 * m_rx, my - 0.3 * m_ry]),
        nose_size=0.35 * m_ry,
    )


def _legs(plan: _BodyPlan, xs: tuple[float, ...], rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    """Straight legs hanging from the body at the given x positions, each at a random stride."""
    return [(np.array([[x, 0.0], [x + rng.uniform(-0.06, 0.06), plan.leg_len]]), plan.leg_w) for x in xs]


@dataclasses.dataclass(frozen=True)
class _Pose:
    """Maps local pet units to pixels: mirror, rotate, scale by body length, translate."""

    scale: float
    angle: float
    flip: float  # +1 faces right, -1 faces left
    centre: tuple[float, float]

    def apply(self, pts: np.ndarray) -> np.ndarray:
        """Pixel coordinates of local points (N x 2)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        x, y = self.flip * pts[:, 0], pts[:, 1]
        return np.stack(
            [self.centre[0] + self.scale * (c * x - s * y), self.centre[1] + self.scale * (s * x + c * y)],
            axis=1,
        )


def _all_points(pet: _Pet) -> np.ndarray:
    """Every polygon vertex and polyline point of a pet (for its extent)."""
    pts = [p for ps in pet.polygons.values() for p in ps]
    pts += [line for ls in pet.lines.values() for line, _ in ls]
    return np.concatenate(pts)


def _head_points(pet: _Pet) -> np.ndarray:
    """Points whose bounding box is the head box: head and muzzle, not the ears (as annotated)."""
    return np.concatenate(pet.polygons["head"] + pet.polygons["face"])


# Silhouette area in squared body lengths, averaged over breeds; turns a target area into a scale.
_UNIT_AREA = {layout.SPECIES_CAT: 0.32, layout.SPECIES_DOG: 0.46}


def _sample_size(rng: np.random.Generator, style: Style) -> tuple[int, int]:
    """Width and height, independently in the style's side range, with its aspect ratios."""
    while True:
        w, h = (int(v) for v in rng.integers(style.min_side, style.max_side + 1, size=2))
        if style.min_aspect <= w / h <= style.max_aspect:
            return w, h


def _place(rng: np.random.Generator, pet: _Pet, species: int, w: int, h: int, style: Style) -> _Pose:
    """Picks scale, rotation, facing and position, keeping the head's centre well inside the image.

    The body may run off the image, as in close-up photos; the head must not, because the head
    box is annotated in image coordinates.
    """
    area = rng.uniform(style.min_pet_area, style.max_pet_area) * w * h
    pose = _Pose(
        math.sqrt(area / _UNIT_AREA[species]),
        rng.uniform(-0.35, 0.35),
        float(rng.choice([-1.0, 1.0])),
        (0.0, 0.0),
    )
    pts = pose.apply(_all_points(pet))
    head = pose.apply(_head_points(pet)).mean(axis=0)
    centre = []
    for axis, size in ((0, w), (1, h)):
        lo, hi = -pts[:, axis].min(), size - pts[:, axis].max()  # centres keeping the pet inside
        margin = 0.1 * (pts[:, axis].max() - pts[:, axis].min())
        c = rng.uniform(min(lo, hi) - margin, max(lo, hi) + margin)
        c = float(np.clip(c + head[axis], 0.12 * size, 0.88 * size) - head[axis])
        centre.append(c)
    return dataclasses.replace(pose, centre=(centre[0], centre[1]))


def _xy(pts: np.ndarray) -> list[tuple[float, float]]:
    """Pixel points as the list of tuples ImageDraw expects."""
    return [(float(x), float(y)) for x, y in pts]


def _draw_pet(draw: ImageDraw.ImageDraw, pet: _Pet, pose: _Pose, parts: Optional[set[str]] = None) -> None:
    """Draws the pet's parts (all by default) as 255 into a single-channel image."""
    for name, polys in pet.polygons.items():
        if parts is None or name in parts:
            for poly in polys:
                draw.polygon(_xy(pose.apply(poly)), fill=255)
    for name, lines in pet.lines.items():
        if parts is None or name in parts:
            for line, width in lines:
                draw.line(
                    _xy(pose.apply(line)), fill=255, width=max(1, round(width * pose.scale)), joint="curve"
                )


def _smooth_noise(rng: np.random.Generator, cells: tuple[int, int], w: int, h: int) -> np.ndarray:
    """Values in about [0, 1] varying smoothly over an h x w image: a coarse grid upsampled."""
    grid = Image.fromarray(rng.random(cells, dtype=np.float32), mode="F")
    return np.asarray(grid.resize((w, h), Image.BICUBIC))


def _jitter(rng: np.random.Generator, colour: RGB, amount: float) -> np.ndarray:
    """A colour varied in brightness and a little in hue, as lighting and individuals vary."""
    c = np.asarray(colour, np.float32) * rng.uniform(1 - amount, 1 + amount)
    return np.clip(c + rng.normal(0.0, 40 * amount, 3), 0, 255).astype(np.float32)


def _fur_like(rng: np.random.Generator, look: _Look) -> np.ndarray:
    """A fur colour: the pet's own breed's half of the time (a cat on a same-coloured blanket),
    otherwise a random breed's, so that colour alone does not find the pet."""
    if rng.random() >= 0.5:
        look = _LOOKS[layout.CLASS_NAMES[rng.integers(layout.NUM_CLASSES)]]
    return _jitter(rng, look.base if rng.random() < 0.6 else look.secondary, 0.15)


def _clutter_colour(rng: np.random.Generator, look: _Look) -> RGB:
    """A clutter colour: often fur-like (see _fur_like), otherwise any colour."""
    c = _fur_like(rng, look) if rng.random() < 0.45 else rng.uniform(0, 255, 3)
    r, g, b = (int(v) for v in c)
    return r, g, b


_Shape = list[tuple[str, list[tuple[float, float]], int]]  # (kind, points, line width) to draw


def _random_shape(rng: np.random.Generator, box: tuple[float, float, float, float], width: int) -> _Shape:
    """A random clutter shape inside a box, as drawing operations that can be replayed (mask)."""
    x0, y0, x1, y1 = box
    kind = int(rng.integers(5))
    if kind == 0:
        return [("polygon", [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], 0)]
    if kind == 1:
        ellipse = _ellipse((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2)
        return [("polygon", _xy(ellipse), 0)]
    if kind == 2:
        return [("line", [(x0, y0), (x1, y1)], width)]
    if kind == 3:
        return [
            ("line", [(x, y0), (x + 0.2 * (x1 - x0), y1)], max(1, width // 2))
            for x in np.linspace(x0, x1, int(rng.integers(3, 8)))
        ]
    return [("polygon", [(x0, y1), (x1, y1), (float(rng.uniform(x0, x1)), y0)], 0)]


def _draw_shape(draw: ImageDraw.ImageDraw, shape: _Shape, fill: object) -> None:
    """Draws a shape's operations with one fill (an RGB colour, or a mask value)."""
    for kind, pts, width in shape:
        if kind == "polygon":
            draw.polygon(pts, fill=fill)
        else:
            draw.line(pts, fill=fill, width=width)


def _random_box(
    rng: np.random.Generator, w: int, h: int, max_frac: float
) -> tuple[float, float, float, float]:
    """A random box anywhere in (or a little past) the image, up to max_frac of its size."""
    bw, bh = rng.uniform(0.05, max_frac) * w, rng.uniform(0.05, max_frac) * h
    x0, y0 = rng.uniform(-0.1 * w, w - 0.5 * bw), rng.uniform(-0.1 * h, h - 0.5 * bh)
    return x0, y0, x0 + bw, y0 + bh


def _scene_colour(rng: np.random.Generator, look: _Look) -> np.ndarray:
    """A wall or floor colour: fur-like 40% of the time (sofas, carpets), otherwise any."""
    if rng.random() < 0.4:
        return _fur_like(rng, look)
    return rng.uniform(20, 235, 3).astype(np.float32)


def _background(rng: np.random.Generator, look: _Look, w: int, h: int) -> Image.Image:
    """A scene: gradient wall, often a floor, smooth and fine texture, then clutter shapes.

    The smooth parts are computed at 1/_LOW_RES resolution and upsampled, which keeps the
    generator fast; the fine texture and the clutter are drawn at full resolution.
    """
    lw, lh = -(-w // _LOW_RES), -(-h // _LOW_RES)
    ys = np.arange(lh, dtype=np.float32)[:, None] * _LOW_RES
    xs = np.arange(lw, dtype=np.float32)[None, :] * _LOW_RES
    a = rng.uniform(0, 2 * math.pi)
    t = ((xs * math.cos(a) + ys * math.sin(a)) / (w + h) + 0.5)[..., None]
    c0 = _scene_colour(rng, look)
    c1 = np.clip(c0 + rng.normal(0, 60, 3), 0, 255).astype(np.float32)
    img = c0 + t * (c1 - c0)
    if rng.random() < 0.6:
        floor = _scene_colour(rng, look)
        horizon = rng.uniform(0.4, 0.85) * h + (xs - w / 2) * rng.uniform(-0.3, 0.3)
        img = np.where((ys > horizon)[..., None], floor * (0.8 + 0.4 * t), img)
    img += rng.uniform(10, 50) * (_smooth_noise(rng, (5, 5), lw, lh) - 0.5)[..., None]
    low = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    low = low.resize((w, h), Image.BILINEAR)
    fine = rng.uniform(0, 30) * (_smooth_noise(rng, (max(2, h // 3), max(2, w // 3)), w, h) - 0.5)
    bg = Image.fromarray(_add_clipped(np.asarray(low), fine.astype(np.int16)[..., None]), "RGB")
    draw = ImageDraw.Draw(bg)
    for _ in range(int(rng.integers(4, 16))):
        shape = _random_shape(rng, _random_box(rng, w, h, 0.45), int(rng.integers(2, 12)))
        _draw_shape(draw, shape, _clutter_colour(rng, look))
    return bg


def _add_clipped(img: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """uint8 image plus an int16 offset (broadcast), saturated to 0..255."""
    return np.clip(img.astype(np.int16) + delta, 0, 255).astype(np.uint8)


def _pattern(
    rng: np.random.Generator, look: _Look, pet: _Pet, pose: _Pose, w: int, h: int
) -> Optional[np.ndarray]:
    """Where the breed's second colour shows, as weights in [0, 1]; None for solid fur."""
    if look.pattern == "solid":
        return None
    if look.pattern == "tabby":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        period = pose.scale * rng.uniform(0.05, 0.08)
        u = (xx * math.cos(pose.angle) + yy * math.sin(pose.angle)) / period
        wave = np.sin(u + 4.0 * _smooth_noise(rng, (4, 4), w, h))
        return np.clip((wave - 0.1) * 2.5, 0, 1)
    if look.pattern == "patches":
        noise = _smooth_noise(rng, (6, 6), w, h)
        return np.clip((noise - rng.uniform(0.45, 0.6)) * 12, 0, 1)
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    if look.pattern == "spots":
        pts = pose.apply(_all_points(pet))
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        for _ in range(int(rng.integers(25, 60))):
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            rx, ry = pose.scale * rng.uniform(0.015, 0.04, size=2)
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=255)
    else:  # points: darker face, ears, legs and tail, as in Siamese colouring
        _draw_pet(draw, pet, pose, {"face", "ears", "legs", "tail"})
        mask = mask.filter(ImageFilter.BoxBlur(max(1, round(0.02 * pose.scale))))
    return np.asarray(mask, np.float32) / 255.0


def _fur(rng: np.random.Generator, look: _Look, pet: _Pet, pose: _Pose, w: int, h: int) -> np.ndarray:
    """Fur colour over the whole frame (used where the mask is on): pattern, shading and strands."""
    base = _jitter(rng, look.base, 0.12)
    fur = np.broadcast_to(base, (h, w, 3))
    pattern = _pattern(rng, look, pet, pose, w, h)
    if pattern is not None:
        fur = fur + pattern[..., None] * (_jitter(rng, look.secondary, 0.12) - base)
    top = pose.centre[1] - 0.4 * pose.scale
    light = 1.15 - 0.3 * np.clip((np.arange(h, dtype=np.float32) - top) / (0.8 * pose.scale), 0, 1)
    strands = _smooth_noise(rng, (max(2, h // 2), max(2, w // 8)), w, h) - 0.5
    shade = 1.0 + 0.25 * (_smooth_noise(rng, (4, 4), w, h) - 0.5) + 2 * look.strands * strands
    return fur * (light[:, None] * shade)[..., None]


def _draw_face(rng: np.random.Generator, img: Image.Image, pet: _Pet, pose: _Pose, species: int) -> None:
    """Eye and nose, so that heads have a little internal structure like real faces."""
    draw = ImageDraw.Draw(img)
    ((ex, ey),) = pose.apply(pet.eye[None])
    er = max(1.0, pet.eye_size * pose.scale)
    iris = (
        tuple(int(v) for v in rng.choice([[120, 160, 40], [200, 170, 40], [80, 140, 200]]))
        if species == layout.SPECIES_CAT
        else (50, 30, 20)
    )
    draw.ellipse((ex - er, ey - 0.7 * er, ex + er, ey + 0.7 * er), fill=iris)
    draw.ellipse((ex - 0.35 * er, ey - 0.6 * er, ex + 0.35 * er, ey + 0.6 * er), fill=(10, 10, 10))
    ((nx, ny),) = pose.apply(pet.nose[None])
    nr = max(1.0, pet.nose_size * pose.scale)
    nose = (190, 110, 110) if species == layout.SPECIES_CAT else (20, 18, 18)
    draw.ellipse((nx - nr, ny - 0.7 * nr, nx + nr, ny + 0.7 * nr), fill=nose)


def _occlude(
    rng: np.random.Generator, img: Image.Image, mask: Image.Image, look: _Look, pet: _Pet, pose: _Pose
) -> bool:
    """Sometimes draws clutter in front of the pet and cuts it out of the mask; True if it did."""
    if rng.random() >= 0.3:
        return False
    pts = pose.apply(_all_points(pet))
    draw_img, draw_mask = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    for _ in range(int(rng.integers(1, 3))):
        x, y = pts[rng.integers(len(pts))]
        size = pose.scale * rng.uniform(0.08, 0.25, size=2)
        box = (x - size[0], y - size[1], x + size[0], y + size[1])
        shape = _random_shape(rng, box, max(2, round(pose.scale * rng.uniform(0.02, 0.06))))
        _draw_shape(draw_img, shape, _clutter_colour(rng, look))
        _draw_shape(draw_mask, shape, 0)
    return True


def _camera(rng: np.random.Generator, img: Image.Image) -> Image.Image:
    """A colour cast (white balance) and per-pixel sensor noise over the whole image."""
    cast = rng.uniform(0.9, 1.1, 3)
    lut = np.clip(np.rint(np.arange(256) * cast[:, None]), 0, 255).astype(np.uint8).ravel().tolist()
    amp = int(rng.integers(3, 15))
    noise = rng.integers(-amp, amp + 1, (img.height, img.width, 3), dtype=np.int16)
    return Image.fromarray(_add_clipped(np.asarray(img.point(lut)), noise), "RGB")


def _trimap(mask: Image.Image, border_radius: int) -> np.ndarray:
    """Trimap of a 0/255 silhouette: 1 inside, 2 outside, 3 on a band a few pixels wide at the edge.

    A box blur of radius r is non-zero exactly where a (2r+1)-square dilation is on, and 255 exactly
    where the erosion is on; this is several times faster than PIL's Max/MinFilter.
    """
    blurred = np.asarray(mask.filter(ImageFilter.BoxBlur(border_radius)))
    trimap = np.full(blurred.shape, layout.TRIMAP_BORDER, np.uint8)
    trimap[blurred == 0] = layout.TRIMAP_BACKGROUND
    trimap[blurred == 255] = layout.TRIMAP_PET
    return trimap


def _head_box(pet: _Pet, pose: _Pose, w: int, h: int) -> tuple[int, int, int, int, bool]:
    """Head box in 1-based inclusive pixels clipped to the image, and whether it was clipped."""
    pts = pose.apply(_head_points(pet))
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    box = (
        max(1, math.floor(x0) + 1),
        max(1, math.floor(y0) + 1),
        min(w, math.ceil(x1)),
        min(h, math.ceil(y1)),
    )
    return (*box, x0 < 0 or y0 < 0 or x1 > w or y1 > h)


@dataclasses.dataclass(frozen=True)
class _Rendered:
    """One rendered example, ready to encode."""

    image: Image.Image
    trimap: Image.Image
    quality: int
    head_box: tuple[int, int, int, int]
    truncated: bool
    occluded: bool


def _render(rng: np.random.Generator, class_id: int, style: Style) -> _Rendered:
    """Renders one pet of the class on a random scene at its final resolution."""
    species = layout.species_of(class_id)
    look = _LOOKS[layout.CLASS_NAMES[class_id - 1]]
    plan = _body_plan(class_id)
    pet = _cat(plan, rng) if species == layout.SPECIES_CAT else _dog(plan, rng)
    w, h = _sample_size(rng, style)
    bg = _background(rng, look, w, h)
    pose = _place(rng, pet, species, w, h, style)
    mask = Image.new("L", (w, h), 0)
    _draw_pet(ImageDraw.Draw(mask), pet, pose)
    fur = Image.fromarray(np.clip(_fur(rng, look, pet, pose, w, h), 0, 255).astype(np.uint8), "RGB")
    # A slightly soft edge, as in photos; the trimap's border band covers it.
    composed = Image.composite(fur, bg, mask.filter(ImageFilter.BoxBlur(1)))
    _draw_face(rng, composed, pet, pose, species)
    occluded = _occlude(rng, composed, mask, look, pet, pose)
    image = _camera(rng, composed)
    *box, truncated = _head_box(pet, pose, w, h)
    return _Rendered(
        image=image,
        trimap=Image.fromarray(_trimap(mask, style.border_radius), "L"),
        quality=int(rng.integers(style.min_jpeg_quality, style.max_jpeg_quality + 1)),
        head_box=(box[0], box[1], box[2], box[3]),
        truncated=truncated,
        occluded=occluded,
    )


def _head_xml(name: str, species: int, r: _Rendered) -> str:
    """Head-box annotation in the real files' exact form (one line, PASCAL VOC tags)."""
    w, h = r.image.size
    xmin, ymin, xmax, ymax = r.head_box
    animal = "cat" if species == layout.SPECIES_CAT else "dog"
    return (
        "<annotation><folder>OXIIIT</folder>"
        f"<filename>{name}{layout.IMAGE_SUFFIX}</filename>"
        "<source><database>OXFORD-IIIT Pet Dataset</database><annotation>OXIIIT</annotation>"
        "<image>flickr</image></source>"
        f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size>"
        "<segmented>0</segmented>"
        f"<object><name>{animal}</name><pose>Frontal</pose>"
        f"<truncated>{int(r.truncated)}</truncated><occluded>{int(r.occluded)}</occluded>"
        f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
        f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>"
        "<difficult>0</difficult></object></annotation>\n"
    )


def _breed_order() -> tuple[int, ...]:
    """Class ids with the 12 cat breeds spread evenly among the 25 dog breeds.

    Cycling through this order keeps breeds balanced over full cycles and keeps the species ratio
    close to the real dataset's (about 1 cat in 3) in any prefix, so small splits get both species.
    """
    ids = range(1, layout.NUM_CLASSES + 1)
    cats = [c for c in ids if layout.species_of(c) == layout.SPECIES_CAT]
    dogs = [c for c in ids if layout.species_of(c) == layout.SPECIES_DOG]
    order, n_cats = [], 0
    for p in range(layout.NUM_CLASSES):
        if n_cats < round((p + 1) * len(cats) / layout.NUM_CLASSES):
            order.append(cats[n_cats])
            n_cats += 1
        else:
            order.append(dogs[p - n_cats])
    return tuple(order)


_BREED_ORDER = _breed_order()


def _image_number(breed: str, split: str, occurrence: int) -> int:
    """The number in `<Breed>_<n>` for a breed's occurrence-th image (0-based) in a split.

    Train images get odd numbers and test images even ones, so names never collide across splits
    whatever the split sizes. Names TFDS re-encodes (layout.TFDS_REENCODED_NAMES) are skipped so
    every image reaches the TFDS records with exactly the bytes written here.
    """
    number = 1 if split == "train" else 2
    while True:
        if f"{breed}_{number}" not in layout.TFDS_REENCODED_NAMES:
            if occurrence == 0:
                return number
            occurrence -= 1
        number += 2


def _entry(split: str, index: int) -> layout.ListEntry:
    """List entry of a split's index-th image: breeds cycle through _BREED_ORDER."""
    class_id = _BREED_ORDER[index % layout.NUM_CLASSES]
    breed = layout.CLASS_NAMES[class_id - 1]
    name = f"{breed}_{_image_number(breed, split, index // layout.NUM_CLASSES)}"
    return layout.ListEntry.for_class(name, class_id)


def _check_int(name: str, value: object, minimum: int) -> None:
    """Raises ValueError naming the argument unless it is an integer (not a bool) >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _write_example(
    root: str, entry: layout.ListEntry, split: str, rng: np.random.Generator, style: Style
) -> None:
    """Renders and writes one example's JPEG, trimap and (train only) head-box XML."""
    r = _render(rng, entry.class_id, style)
    # No EXIF, no timestamps, no optimisation passes: the bytes depend on pixels and quality only.
    r.image.save(layout.image_path(root, entry), format="JPEG", quality=r.quality)
    r.trimap.save(layout.trimap_path(root, entry), format="PNG")
    if split == "train":
        with open(layout.xml_path(root, entry), "w", encoding="utf-8", newline="\n") as f:
            f.write(_head_xml(entry.name, entry.species_id, r))


def write_dataset(out_dir: str, n_train: int, n_test: int, seed: int = 0, style: str = "default") -> dict:
    """Writes n_train trainval and n_test test examples in the Oxford-IIIT Pet layout under out_dir,
    drawn in one of STYLES.

    Files for the same (seed, split, index) are byte-identical across calls, whatever the other
    split's size. Existing files of the same names are overwritten; other files are left alone.

    Returns a summary: {"root", "seed", "counts": {split: n}, "species_counts": {split: {"Cat": n,
    "Dog": n}}, "class_counts": {split: {breed: n}}, "list_files": {split: path}, "images_dir",
    "trimaps_dir", "xmls_dir"}, with splits named as TFDS names them ("train", "test").
    """
    _check_int("n_train", n_train, 1)
    _check_int("n_test", n_test, 1)
    _check_int("seed", seed, 0)
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    n_train, n_test, seed = int(n_train), int(n_test), int(seed)
    root = os.path.abspath(out_dir)
    for d in (layout.IMAGES_DIR, layout.TRIMAPS_DIR, layout.XMLS_DIR):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    summary: dict = {
        "root": root,
        "seed": seed,
        "counts": {},
        "species_counts": {},
        "class_counts": {},
        "list_files": {},
        "images_dir": os.path.join(root, layout.IMAGES_DIR),
        "trimaps_dir": os.path.join(root, layout.TRIMAPS_DIR),
        "xmls_dir": os.path.join(root, layout.XMLS_DIR),
    }
    for split, count in (("train", n_train), ("test", n_test)):
        entries = [_entry(split, i) for i in range(count)]
        for i, entry in enumerate(entries):
            rng = np.random.default_rng([seed, _SPLIT_CODES[split], i])
            _write_example(root, entry, split, rng, STYLES[style])
        list_file = layout.list_file_path(root, split)
        with open(list_file, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(layout.format_list_line(e) + "\n" for e in entries)
        summary["counts"][split] = count
        summary["species_counts"][split] = {
            name: sum(e.species_id == sid for e in entries)
            for sid, name in enumerate(layout.SPECIES_NAMES, start=1)
        }
        summary["class_counts"][split] = {b: sum(e.breed == b for e in entries) for b in layout.CLASS_NAMES}
        summary["list_files"][split] = list_file
    return summary
