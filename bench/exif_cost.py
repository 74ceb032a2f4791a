"""What applying EXIF orientation costs in the graph: `decode_oriented` against `decode_image`.

Transform and the serving signature decode a batch of encoded images with `tf.map_fn` inside a
traced function; that is how both variants run here, on photo-like 500×375 JPEGs (the Oxford
images' typical size) without EXIF and with a phone's EXIF (orientation 6: the pixels are
turned, the costly case). Per kind of image it times, per image:
- `decode_image`: `tf.io.decode_image(channels=3, expand_animations=False)`, the current code;
- `decode_oriented`: the same decode, the orientation read from the bytes, the image turned;
- `exif_orientation`: reading the orientation alone;
- `transform_plain` / `transform_oriented`: the whole per-image step of Transform's
  preprocessing (decode, resize to 128×128 bilinear, scale to [0, 1]) with either decoder;
- `transform_turn_after_resize`: the same step turning the 128×128 result instead of the
  full-size image (`exif_orientation` + `apply_orientation` after the resize); the JSON's
  `turn_after_resize_max_difference` says how far its output is from `transform_oriented`'s.
The decode-only variants return the image's shape and one pixel, which needs the whole image
decoded (and turned) but copies nothing out. Variants alternate within each round; each call's
wall time and this process's CPU time are both recorded, and the result is the median over
rounds, ratios taken within a round. The machine's 2 cores are shared with other jobs, and
neither time is the pure cost: under load the wall times of sub-millisecond steps swung by
half from run to run, and CPU time includes TensorFlow's threads spinning, so it rises when
a core is free. The ratios, taken on CPU time within a round, stayed within 8%
across runs at load averages from 1.2 to 4.

`python -m bench.exif_cost [--quick]` writes bench/results/exif_cost.json (a stage of
`make bench`); `measure()` returns the same numbers.
"""

import io
import statistics
import struct
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import tensorflow as tf
from PIL import Image

from bench.common import QUICK, Recorder, alternating_orders, machine_snapshot, parse_settings
from trainer.orientation import apply_orientation, decode_oriented, exif_orientation

TRANSFORM_SIZE = 128


def _photo(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Smooth shapes plus sensor-like noise: compresses like a photo (about 30-60 KB here),
    unlike flat colours (too small) or white noise (too large)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), np.float32)
    for channel in range(3):
        for _ in range(4):
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            radius = rng.uniform(0.2, 0.6) * max(width, height)
            image[..., channel] += rng.uniform(40, 90) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / radius**2)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _phone_exif(orientation: int, thumbnail: bytes) -> bytes:
    """An APP1 segment laid out as a phone writes it: IFD0 (Make, Model, Orientation,
    resolution, Software, DateTime, Exif pointer), an Exif sub-IFD, IFD1 and a JPEG thumbnail."""
    order = ">"
    strings = {
        0x010F: b"Apple\x00",
        0x0110: b"iPhone 15\x00",
        0x0131: b"17.1\x00",
        0x0132: b"2024:06:11 10:00:00\x00",
    }
    ifd0_tags = 9
    ifd0_size = 2 + 12 * ifd0_tags + 4
    data_at = 8 + ifd0_size
    blob, entries = b"", []
    for tag, text in strings.items():
        entries.append(struct.pack(order + "HHII", tag, 2, len(text), data_at + len(blob)))
        blob += text
    resolution_at = data_at + len(blob)
    blob += struct.pack(order + "IIII", 72, 1, 72, 1)
    exif_ifd_at = data_at + len(blob)
    exif_ifd = (
        struct.pack(order + "H", 2)
        + struct.pack(order + "HHI", 0x9000, 7, 4)
        + b"0232"
        + struct.pack(order + "HHIHH", 0xA002, 3, 1, 500, 0)
        + struct.pack(order + "I", 0)
    )
    blob += exif_ifd
    ifd1_at = data_at + len(blob)
    thumbnail_at = ifd1_at + 2 + 12 * 2 + 4
    blob += (
        struct.pack(order + "H", 2)
        + struct.pack(order + "HHII", 0x0201, 4, 1, thumbnail_at)
        + struct.pack(order + "HHII", 0x0202, 4, 1, len(thumbnail))
        + struct.pack(order + "I", 0)
        + thumbnail
    )
    entries += [
        struct.pack(order + "HHIHH", 0x0112, 3, 1, orientation, 0),
        struct.pack(order + "HHII", 0x011A, 5, 1, resolution_at),
        struct.pack(order + "HHII", 0x011B, 5, 1, resolution_at + 8),
        struct.pack(order + "HHIHH", 0x0128, 3, 1, 2, 0),
        struct.pack(order + "HHII", 0x8769, 4, 1, exif_ifd_at),
    ]
    entries.sort(key=lambda entry: struct.unpack(order + "H", entry[:2])[0])
    ifd0 = struct.pack(order + "H", len(entries)) + b"".join(entries) + struct.pack(order + "I", ifd1_at)
    payload = b"Exif\x00\x00MM\x00*" + struct.pack(order + "I", 8) + ifd0 + blob
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def make_images(n_images: int, size: Tuple[int, int], seed: int = 0) -> Dict[str, List[bytes]]:
    """`n_images` distinct photo-like JPEGs (width, height = size), as stored and EXIF-tagged."""
    rng = np.random.default_rng(seed)
    width, height = size
    plain, tagged = [], []
    for _ in range(n_images):
        pixels = _photo(rng, width, height)
        jpeg = _jpeg(pixels, quality=90)
        thumbnail = _jpeg(np.asarray(Image.fromarray(pixels).resize((160, 120))), quality=80)
        app0_end = 4 + struct.unpack(">H", jpeg[4:6])[0]
        plain.append(jpeg)
        tagged.append(jpeg[:app0_end] + _phone_exif(6, thumbnail) + jpeg[app0_end:])
    return {"untagged": plain, "exif_orientation_6": tagged}


def _batch_function(per_image: Callable[[tf.Tensor], Any], signature) -> Callable:
    return tf.function(
        lambda encoded: tf.map_fn(per_image, encoded, fn_output_signature=signature),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )


def _probe(image: tf.Tensor) -> tf.Tensor:
    """Shape and one pixel: forces the whole decode (and turn) without copying the image out."""
    shape = tf.shape(image)
    pixel = tf.cast(image[shape[0] // 2, shape[1] // 3], tf.int32)
    return tf.concat([shape, pixel], 0)


def _transform_step(decode: Callable[[tf.Tensor], tf.Tensor]) -> Callable[[tf.Tensor], tf.Tensor]:
    def step(encoded: tf.Tensor) -> tf.Tensor:
        image = tf.image.resize(tf.cast(decode(encoded), tf.float32), [TRANSFORM_SIZE, TRANSFORM_SIZE])
        return tf.clip_by_value(image / 255.0, 0.0, 1.0)

    return step


def _plain(encoded: tf.Tensor) -> tf.Tensor:
    return tf.io.decode_image(encoded, channels=3, expand_animations=False)


def _turn_after_resize(encoded: tf.Tensor) -> tf.Tensor:
    image = _transform_step(_plain)(encoded)
    return apply_orientation(image, exif_orientation(encoded))


def _variants() -> Dict[str, Callable]:
    probe = tf.TensorSpec([6], tf.int32)
    resized = tf.TensorSpec([TRANSFORM_SIZE, TRANSFORM_SIZE, 3], tf.float32)
    return {
        "decode_image": _batch_function(lambda e: _probe(_plain(e)), probe),
        "decode_oriented": _batch_function(lambda e: _probe(decode_oriented(e)), probe),
        "exif_orientation": _batch_function(exif_orientation, tf.TensorSpec([], tf.int32)),
        "transform_plain": _batch_function(_transform_step(_plain), resized),
        "transform_oriented": _batch_function(_transform_step(decode_oriented), resized),
        "transform_turn_after_resize": _batch_function(_turn_after_resize, resized),
    }


def measure(
    n_images: int = 64, size: Tuple[int, int] = (500, 375), rounds: int = 7, seed: int = 0
) -> Dict[str, Any]:
    """Per-image wall and CPU ms of each variant on each kind of image (medians over rounds), the
    CPU-time ratios to the plain decoder, and how far turning after the resize is from before."""
    before = machine_snapshot()
    images = make_images(n_images, size, seed)
    variants = _variants()
    batches = {kind: tf.constant(files) for kind, files in images.items()}
    for batch in batches.values():
        for function in variants.values():
            function(batch)  # trace and warm up
    wall: Dict[Tuple[str, str], List[float]] = {}
    cpu: Dict[Tuple[str, str], List[float]] = {}
    for order in alternating_orders(list(variants), rounds):
        for kind, batch in batches.items():
            for name in order:
                start, start_cpu = time.perf_counter(), time.process_time()
                variants[name](batch).numpy()
                wall.setdefault((kind, name), []).append(time.perf_counter() - start)
                cpu.setdefault((kind, name), []).append(time.process_time() - start_cpu)

    def per_image(seconds: Dict[Tuple[str, str], List[float]], kind: str) -> Dict[str, float]:
        return {
            name: round(1e3 * statistics.median(seconds[(kind, name)]) / n_images, 3) for name in variants
        }

    def ratio(kind: str, variant: str, baseline: str) -> float:
        return round(statistics.median(v / b for v, b in zip(cpu[(kind, variant)], cpu[(kind, baseline)])), 3)

    result: Dict[str, Any] = {"n_images": n_images, "size_wh": list(size), "rounds": rounds}
    for kind, batch in batches.items():
        turned_first = variants["transform_oriented"](batch).numpy()
        turned_last = variants["transform_turn_after_resize"](batch).numpy()
        result[kind] = {
            "mean_jpeg_kb": round(float(np.mean([len(f) for f in images[kind]])) / 1024, 1),
            "wall_ms_per_image": per_image(wall, kind),
            "cpu_ms_per_image": per_image(cpu, kind),
            "cpu_ratio_to_plain": {
                "decode_oriented": ratio(kind, "decode_oriented", "decode_image"),
                "transform_oriented": ratio(kind, "transform_oriented", "transform_plain"),
                "transform_turn_after_resize": ratio(kind, "transform_turn_after_resize", "transform_plain"),
            },
            "turn_after_resize_max_difference": float(np.abs(turned_first - turned_last).max()),
        }
    result["machine"] = {"before": before, "after": machine_snapshot()}
    return result


def main() -> None:
    settings = parse_settings(__doc__.splitlines()[0])
    recorder = Recorder("exif_cost", settings)
    recorder.write(measure(rounds=3 if settings.name == QUICK.name else 7))


if __name__ == "__main__":
    main()
