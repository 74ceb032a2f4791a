"""Regenerate the numbers and figures of docs/how-the-model-works.md from the code.

Every number on that page is read from the built models (parameter counts, feature-map sizes,
which encoder layer feeds which decoder step), computed by real TensorFlow layers (transposed
convolution output sizes, mask resizing) or taken from the measured runs recorded in
docs/figures/scratch_training.json; none is typed by hand. The page keeps them between
`<!-- generated:NAME -->` and `<!-- end:NAME -->` markers, which this script rewrites, and
tests/trainer/test_model_claims.py fails when the page and the code disagree.

    python -m docs.model_figures           # rewrite the page's generated blocks and docs/figures/*.png
    python -m docs.model_figures --check   # only compare; exit 1 when the page is out of date

Models are built offline with encoder_weights="none": the values of weights change no parameter
count, shape or connection, and the ImageNet file cannot be downloaded here.
"""

import os

# Before TensorFlow is imported: TFT and TFMA 1.16 work only with Keras 2 (tf_keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse
import dataclasses
import json
import re
import tempfile
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tf_keras as keras
from matplotlib.colors import ListedColormap
from PIL import Image

from contract import oxford_pets as layout
from datagen.synthetic_pets import write_dataset
from trainer.models import build_model, format_trainable_summary, trainable_summary
from trainer.models.encoder import ENCODER_NAME, SKIP_LAYER_NAMES

DOCS_DIR = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.join(DOCS_DIR, "how-the-model-works.md")
FIGURES_DIR = os.path.join(DOCS_DIR, "figures")
SCRATCH_RESULTS = os.path.join(FIGURES_DIR, "scratch_training.json")
IMAGE_SIZE = 128  # the tutorial's and the pipeline's default model input
OTHER_SIZES = (64, 96)  # further multiples of 32 the fully convolutional U-Net is built at
REFUSED_SIZE = 100  # not a multiple of 32
# (input size, kernel, stride) of the transposed-convolution table: the cases of issue 14.
TRANSPOSED_CASES = ((4, 2, 2), (2, 3, 2), (3, 5, 2))
MERGE_LAYERS = ("Concatenate", "Add")
ENCODER_INPUT = "block_16_project"  # the deepest encoder output, where both decoders start
_BLOCK = re.compile(
    r"<!-- generated:(?P<name>[\w-]+) -->\n(?:(?P<body>.*?)\n)?<!-- end:(?P=name) -->", re.DOTALL
)


@dataclasses.dataclass
class ReferenceModels:
    """The models the page describes, built at IMAGE_SIZE unless noted."""

    unet_frozen: keras.Model  # the tutorial's setting: encoder frozen
    unet_scratch: keras.Model  # encoder_weights none, freeze auto: the encoder trains
    fcn8: keras.Model
    unet_at: dict  # {size: U-Net built at that size}, for OTHER_SIZES


def build_reference_models() -> ReferenceModels:
    """Build every model the page reads its numbers from."""
    return ReferenceModels(
        unet_frozen=build_model("unet", image_size=IMAGE_SIZE, freeze_encoder=True),
        unet_scratch=build_model("unet", image_size=IMAGE_SIZE),
        fcn8=build_model("fcn8", image_size=IMAGE_SIZE),
        unet_at={size: build_model("unet", image_size=size) for size in OTHER_SIZES},
    )


# --- the graph, read from the built models ---------------------------------------------------


def inbound(model: keras.Model) -> dict:
    """{layer name: [(inbound layer name, index of that layer's output), ...]}, from the model's
    config: the graph as Keras serialises it, so the page shows what an exported model wires."""
    return {
        layer["name"]: [(src, index) for src, _node, index, *_ in layer["inbound_nodes"][0]]
        if layer["inbound_nodes"]
        else []
        for layer in model.get_config()["layers"]
    }


def encoder_output_names(model: keras.Model) -> list:
    """Names of the MobileNetV2 layers the nested encoder outputs, in output order."""
    return [name for name, _node, _index in model.get_layer(ENCODER_NAME).get_config()["output_layers"]]


def _consumers(model: keras.Model) -> dict:
    """{(layer name, output index): [names of the layers that read that output]}."""
    result: dict = {}
    for name, sources in inbound(model).items():
        for source in sources:
            result.setdefault(source, []).append(name)
    return result


def _spatial(model: keras.Model, name: str, index: int = 0) -> tuple:
    """(side, channels) of output `index` of layer `name`: sizes as the built model has them."""
    shape = model.get_layer(name).output_shape
    shape = shape[index] if isinstance(shape, list) else shape
    return shape[1], shape[-1]


@dataclasses.dataclass(frozen=True)
class EncoderUse:
    """Where one encoder output enters the decoder.

    path: the layers it passes at its own resolution, ending with the layer that merges it
    into the decoder (a skip connection) or that upsamples it (the decoder's input).
    merge: the merging layer's class ("Concatenate", "Add"), None for the decoder's input.
    """

    encoder_layer: str
    size: int
    channels: int
    path: tuple
    merge: Optional[str]


def encoder_uses(model: keras.Model) -> dict:
    """{encoder layer name: EncoderUse} for every encoder output the model reads."""
    consumers = _consumers(model)
    classes = {layer["name"]: layer["class_name"] for layer in model.get_config()["layers"]}
    uses = {}
    for index, name in enumerate(encoder_output_names(model)):
        readers = consumers.get((ENCODER_NAME, index), [])
        if not readers:
            continue
        (current,) = readers  # each encoder output feeds one layer in these models
        size, channels = _spatial(model, ENCODER_NAME, index)
        path = [current]
        while classes[current] not in MERGE_LAYERS and _spatial(model, current)[0] == size:
            (current,) = consumers[(current, 0)]
            path.append(current)
        merge = classes[current] if classes[current] in MERGE_LAYERS else None
        uses[name] = EncoderUse(name, size, channels, tuple(path), merge)
    return uses


def decoder_chain(model: keras.Model) -> list:
    """[(layer name, size, channels), ...] from the deepest encoder output to the logits."""
    consumers = _consumers(model)
    index = encoder_output_names(model).index(ENCODER_INPUT)
    chain = [(f"{ENCODER_NAME}/{ENCODER_INPUT}", *_spatial(model, ENCODER_NAME, index))]
    source = (ENCODER_NAME, index)
    while source in consumers:
        (current,) = consumers[source]
        chain.append((current, *_spatial(model, current)))
        source = (current, 0)
    return chain


def upsampling_sizes(chain: list) -> list:
    """The sizes of a decoder chain, each once, in order: 4, 8, ..., 128 for the U-Net."""
    return [size for i, (_, size, _) in enumerate(chain) if i == 0 or size != chain[i - 1][1]]


# --- parameter counts ------------------------------------------------------------------------


def decoder_parameters(model: keras.Model) -> list:
    """Per trainable decoder layer of a U-Net: its input and output shapes and its parameters,
    split into the transposed convolution's kernel (and bias) and BatchNorm's gamma and beta
    (trainable) and moving mean and variance (never trainable). `kernel` is the shape as Keras
    stores a transposed convolution's kernel: (k, k, filters, c_in)."""
    rows = []
    for layer in model.layers:
        if layer.name == ENCODER_NAME or not layer.weights:
            continue
        deconv = layer.layers[0] if isinstance(layer, keras.Sequential) else layer
        norms = [
            inner
            for inner in getattr(layer, "layers", [])
            if isinstance(inner, keras.layers.BatchNormalization)
        ]
        rows.append(
            {
                "name": layer.name,
                "input": tuple(layer.input_shape[1:]),
                "output": tuple(layer.output_shape[1:]),
                "kernel": tuple(deconv.kernel.shape),
                "bias": int(np.prod(deconv.bias.shape)) if deconv.use_bias else 0,
                "bn_trainable": sum(int(np.prod(w.shape)) for bn in norms for w in bn.trainable_weights),
                "bn_statistics": sum(int(np.prod(w.shape)) for bn in norms for w in bn.non_trainable_weights),
            }
        )
    return rows


def transposed_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output length of a transposed convolution (dilation 1, no output_padding), as Keras
    computes it: `same` multiplies by the stride; `valid` also lets the kernel overhang the
    last input position, adding max(kernel - stride, 0)."""
    if padding == "same":
        return size * stride
    if padding == "valid":
        return size * stride + max(kernel - stride, 0)
    raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")


def layer_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output side of a real Conv2DTranspose on a size x size input."""
    layer = keras.layers.Conv2DTranspose(1, kernel, strides=stride, padding=padding)
    return int(layer(tf.zeros((1, size, size, 1))).shape[1])


# --- masks -----------------------------------------------------------------------------------


def sample_trimap() -> np.ndarray:
    """The trimap of the first training image of `segpipe make-data --seed 0` (values 1, 2, 3)."""
    with tempfile.TemporaryDirectory() as root:
        write_dataset(root, n_train=1, n_test=1, seed=0)
        (entry,) = layout.parse_list_file(layout.list_file_path(root, "train"))
        return np.array(Image.open(layout.trimap_path(root, entry)))


def resize_labels(mask: np.ndarray, shape: tuple, method: str) -> np.ndarray:
    """A 2-D label mask resized to shape (height, width) by tf.image.resize, values kept as float."""
    resized = tf.image.resize(mask[..., None].astype(np.float32), list(shape), method=method)
    return resized.numpy()[..., 0]


def source_labels(mask: np.ndarray, shape: tuple) -> np.ndarray:
    """(4, height, width): for each output pixel of a resize to shape, the labels of the four
    source pixels bilinear interpolation reads (TF's half-pixel centres). Nearest neighbour
    picks one of the same four."""

    def neighbours(n_in: int, n_out: int) -> tuple:
        position = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        return np.floor(position).astype(int), np.ceil(position).astype(int)

    rows, cols = neighbours(mask.shape[0], shape[0]), neighbours(mask.shape[1], shape[1])
    return np.stack([mask[np.ix_(r, c)] for r in rows for c in cols])


def resize_damage(mask: np.ndarray, resized: np.ndarray) -> dict:
    """Boolean maps of a resized label mask's damage: `fractional` values, and `wrong` classes,
    pixels whose value cast to an integer (as Keras' sparse cross-entropy casts labels) is a
    label none of its source pixels has. `edge`: pixels whose source pixels disagree."""
    sources = source_labels(mask, resized.shape)
    fractional = np.abs(resized - np.round(resized)) > 1e-4
    wrong = ~(sources == resized.astype(np.int64)).any(axis=0)
    return {"fractional": fractional, "wrong": wrong, "edge": sources.min(axis=0) != sources.max(axis=0)}


# --- the page's generated blocks -------------------------------------------------------------


def _table(header: Sequence[str], rows: list) -> str:
    """A GitHub-markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _shape(shape: tuple) -> str:
    """(8, 8, 512) -> 8×8×512."""
    return "×".join(str(n) for n in shape)


def summary_block(model: keras.Model) -> str:
    """What `segpipe summary` prints below its header line, for this model."""
    return "```text\n" + format_trainable_summary(trainable_summary(model)) + "\n```"


def decoder_parameters_block(model: keras.Model) -> str:
    """Each trainable decoder layer's parameters as the product that gives them, so a reader can
    check the counts by hand."""
    rows = []
    for row in decoder_parameters(model):
        k1, k2, filters, c_in = row["kernel"]  # Keras stores a transposed kernel as (k, k, out, in)
        kernel = f"{k1}·{k2}·{c_in}·{filters} = {k1 * k2 * c_in * filters:,}"
        trainable = k1 * k2 * c_in * filters + row["bias"] + row["bn_trainable"]
        rows.append(
            [
                f"`{row['name']}`",
                _shape(row["input"]),
                _shape(row["output"]),
                kernel,
                f"{row['bias']:,}",
                f"{row['bn_trainable']:,}",
                f"{trainable:,}",
                f"{row['bn_statistics']:,}",
            ]
        )
    return _table(
        [
            "layer",
            "input",
            "output",
            "Conv2DTranspose kernel k·k·c_in·filters",
            "bias",
            "BatchNorm γ, β",
            "trainable",
            "BN moving statistics (frozen)",
        ],
        rows,
    )


def counts_block(models: ReferenceModels) -> str:
    """Encoder and decoder trainable totals in both modes: the short answer to "what trains"."""
    rows = []
    for label, model in (
        ("encoder frozen (`--freeze-encoder yes`, or pretrained weights)", models.unet_frozen),
        ("encoder trained (`--encoder-weights none`)", models.unet_scratch),
    ):
        summary = trainable_summary(model)
        encoder = sum(r["trainable"] for r in summary["blocks"] if r["name"].startswith(ENCODER_NAME))
        rows.append(
            [
                label,
                f"{encoder:,}",
                f"{summary['trainable'] - encoder:,}",
                f"{summary['trainable']:,}",
                f"{summary['frozen']:,}",
                f"{summary['total']:,}",
            ]
        )
    return _table(
        [
            "U-Net at 128×128",
            "trainable in the encoder",
            "trainable in the decoder",
            "trainable",
            "frozen",
            "total",
        ],
        rows,
    )


def any_size_block(models: ReferenceModels) -> str:
    """The U-Net at several sizes with identical weights, and why a non-multiple of 32 fails."""
    rows = []
    for size, model in sorted({IMAGE_SIZE: models.unet_scratch, **models.unet_at}.items()):
        rows.append(
            [
                f"{size}×{size}",
                _shape(model.output_shape[1:]),
                f"{model.count_params():,}",
                len(model.weights),
                " → ".join(str(s) for s in upsampling_sizes(decoder_chain(model))),
            ]
        )
    skips = mobilenet_skip_sizes(REFUSED_SIZE)
    refused = (
        f'`build_model("unet", image_size={REFUSED_SIZE})` raises `ValueError: '
        f"{refusal(REFUSED_SIZE)}`: MobileNetV2's outputs at {REFUSED_SIZE} px are "
        + " → ".join(str(s) for s in skips)
        + f", and the decoder's first step, "
        f"{skips[-1]} → {2 * skips[-1]}, does not meet {skips[-2]}."
    )
    return (
        _table(["input", "logits", "parameters", "weight tensors", "decoder sizes"], rows) + "\n\n" + refused
    )


def mobilenet_skip_sizes(image_size: int) -> list:
    """Sides of the five skip outputs of Keras' MobileNetV2 (which takes any size >= 32) on an
    image_size² input."""
    base = keras.applications.MobileNetV2(
        input_shape=[image_size, image_size, 3], include_top=False, weights=None
    )
    return [base.get_layer(name).output_shape[1] for name in SKIP_LAYER_NAMES]


def refusal(image_size: int) -> str:
    """The error build_model gives for an input size the U-Net cannot take."""
    try:
        build_model("unet", image_size=image_size)
    except ValueError as error:
        return str(error)
    raise AssertionError(f"build_model accepted image_size={image_size}")


def transposed_block() -> str:
    """The output-size formula next to what real Conv2DTranspose layers produce."""
    rows = []
    for size, kernel, stride in TRANSPOSED_CASES:
        row = [f"{size}×{size}", kernel, stride]
        for padding in ("same", "valid"):
            formula = transposed_output_size(size, kernel, stride, padding)
            row += [
                f"{formula}×{formula}",
                f"{layer_output_size(size, kernel, stride, padding)}"
                f"×{layer_output_size(size, kernel, stride, padding)}",
            ]
        rows.append(row)
    return _table(
        [
            "input",
            "kernel",
            "stride",
            "`same`: formula",
            "`same`: Conv2DTranspose",
            "`valid`: formula",
            "`valid`: Conv2DTranspose",
        ],
        rows,
    )


def chain_block(model: keras.Model) -> str:
    """A decoder's layers with their output shapes, from the encoder's deepest output on."""
    rows = [[f"`{name}`", f"{size}×{size}×{channels}"] for name, size, channels in decoder_chain(model)]
    return (
        _table(["layer", "output"], rows)
        + "\n\nUpsampling steps: "
        + " → ".join(str(size) for size in upsampling_sizes(decoder_chain(model)))
        + "."
    )


def skips_block(models: ReferenceModels) -> str:
    """Which encoder output enters which decoder step, and how, in the U-Net and FCN-8s."""

    def describe(model: keras.Model, use: Optional[EncoderUse]) -> str:
        if use is None:
            return "not used"
        path = " → ".join(f"`{name}`" for name in use.path)
        if use.merge is None:
            return f"{path} (the decoder's input)"
        merged = _spatial(model, use.path[-1])
        return f"{path} ({use.merge}, {merged[1]} channels out)"

    unet, fcn8 = encoder_uses(models.unet_frozen), encoder_uses(models.fcn8)
    rows = []
    for name in encoder_output_names(models.unet_frozen):
        use = unet[name]
        rows.append(
            [
                f"`{name}`",
                f"{use.size}×{use.size}×{use.channels}",
                f"{IMAGE_SIZE // use.size}",
                describe(models.unet_frozen, use),
                describe(models.fcn8, fcn8.get(name)),
            ]
        )
    return _table(["encoder output", "size at 128 px", "stride", "U-Net", "FCN-8s"], rows)


def mask_block(mask: np.ndarray, size: int = IMAGE_SIZE) -> str:
    """How many pixels each resizing method damages, on edges and off them."""
    rows = []
    for method in ("bilinear", "nearest"):
        damage = resize_damage(mask, resize_labels(mask, (size, size), method))
        edge = damage["edge"].sum()
        bad = damage["fractional"] | damage["wrong"]
        on_edges = (bad & damage["edge"]).sum()
        rows.append(
            [
                method,
                f"{damage['fractional'].sum():,}",
                f"{damage['wrong'].sum():,}",
                f"{on_edges:,} of {edge:,} ({on_edges / edge:.0%})",
                f"{(bad & ~damage['edge']).sum():,}",
            ]
        )
    height, width = mask.shape
    return (
        f"The trimap of `segpipe make-data --seed 0`'s first training image ({width}×{height}) "
        f"resized to {size}×{size}:\n\n"
        + _table(
            [
                "method",
                "fractional pixels",
                "wrong-class pixels",
                "damaged edge pixels",
                "damaged pixels off edges",
            ],
            rows,
        )
    )


def scratch_block(results: dict) -> str:
    """The measured runs (docs/figures/scratch_training.json) as tables, with the share of the
    initial BatchNorm statistics each momentum leaves after the run's steps."""
    settings = results["settings"]
    rows = []
    for run, measured in results["runs"].items():
        inference, training = measured["inference_mode"], measured["training_mode"]
        shares = " / ".join(f"{share:.0%}" for share in inference["predicted_shares"])
        rows.append(
            [
                f"`{run}`",
                f"{training['pixel_accuracy']:.3f}",
                f"{inference['pixel_accuracy']:.3f}",
                f"{inference['mean_iou']:.3f}",
                shares,
                f"{training['skip_signal'][ENCODER_INPUT]:.2g}",
                f"{inference['skip_signal'][ENCODER_INPUT]:.2g}",
            ]
        )
    skips = list(next(iter(results["runs"].values()))["inference_mode"]["skip_signal"])
    signal_rows = [
        [
            f"`{run}`",
            mode.replace("_", " "),
            *(f"{measured[mode]['skip_signal'][name]:.2g}" for name in skips),
        ]
        for run, measured in results["runs"].items()
        for mode in ("training_mode", "inference_mode")
    ]
    momenta = sorted(
        {
            run["build_model"]["bn_momentum"]
            for run in results["runs"].values()
            if "bn_momentum" in run["build_model"]
        },
        reverse=True,
    )
    kept = ", ".join(f"{m}^{settings['steps']} = {m ** settings['steps']:.3g}" for m in momenta)
    return (
        f"Measured by `{results['command']}` on `{results['data']}`: "
        f"{settings['train_images']} training images at {settings['image_size']}×"
        f"{settings['image_size']} px, {settings['steps']} steps of {settings['batch_size']} "
        f"images, Adam {settings['learning_rate']}, scored on the {settings['test_images']} "
        f"test images. Predicting the majority class everywhere scores pixel accuracy "
        f"{results['test_majority_share']:.3f}.\n\n"
        + _table(
            [
                "run",
                "pixel accuracy, training mode",
                "pixel accuracy, inference mode",
                "mean IoU, inference mode",
                "predicted pet / background / border",
                f"`{ENCODER_INPUT}` signal, training mode",
                f"`{ENCODER_INPUT}` signal, inference mode",
            ],
            rows,
        )
        + "\n\nImage-dependent signal at each encoder output (standard deviation over "
        "test images and pixels, averaged over channels; the test images' own, in [0, 1], is "
        f"{results['test_image_signal']:.2g}):\n\n"
        + _table(["run", "mode", *(f"`{name}`" for name in skips)], signal_rows)
        + f"\n\nShare of the initial moving statistics left after {settings['steps']} "
        f"steps: {kept}."
    )


def load_scratch_results(path: str = SCRATCH_RESULTS) -> dict:
    """The measured runs; run docs/measure_scratch_training.py when the file is missing."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: run `python -m docs.measure_scratch_training`")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def generated_blocks(models: ReferenceModels, mask: np.ndarray, scratch: dict) -> dict:
    """{block name: markdown} for every generated block of the page."""
    return {
        "summary-frozen": summary_block(models.unet_frozen),
        "summary-scratch": summary_block(models.unet_scratch),
        "counts": counts_block(models),
        "decoder-parameters": decoder_parameters_block(models.unet_frozen),
        "scratch-training": scratch_block(scratch),
        "any-size": any_size_block(models),
        "transposed-sizes": transposed_block(),
        "unet-chain": chain_block(models.unet_frozen),
        "fcn8-chain": chain_block(models.fcn8),
        "skips": skips_block(models),
        "mask-resize": mask_block(mask),
    }


def read_blocks(page: str) -> dict:
    """{block name: body} of the generated blocks in a page's text."""
    return {match["name"]: match["body"] or "" for match in _BLOCK.finditer(page)}


def render_page(page: str, blocks: dict) -> str:
    """The page with each generated block's body replaced; the page must hold exactly the
    blocks this script generates, so none is silently left stale or unfilled."""
    on_page = set(read_blocks(page))
    if on_page != set(blocks):
        raise ValueError(
            f"generated blocks missing from the page: {sorted(set(blocks) - on_page)}; "
            f"unknown blocks on the page: {sorted(on_page - set(blocks))}"
        )
    return _BLOCK.sub(
        lambda m: f"<!-- generated:{m['name']} -->\n{blocks[m['name']]}\n<!-- end:{m['name']} -->", page
    )


# --- figures ---------------------------------------------------------------------------------


def _save(fig: plt.Figure, name: str) -> str:
    """Write a figure under FIGURES_DIR and return its path."""
    path = os.path.join(FIGURES_DIR, name)
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: reruns are byte-identical
    plt.close(fig)
    return path


def draw_size_chain(models: ReferenceModels) -> str:
    """Feature-map sizes down the encoder and up each decoder, with the skip connections."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    for ax, model, title in (
        (axes[0], models.unet_frozen, "U-Net (tutorial): skips concatenated"),
        (axes[1], models.fcn8, "FCN-8s: score maps added"),
    ):
        uses = encoder_uses(model)
        names = encoder_output_names(model)
        down = [("input", IMAGE_SIZE, 3)] + [
            (name, *_spatial(model, ENCODER_NAME, index)) for index, name in enumerate(names)
        ]
        for x, (name, size, channels) in enumerate(down):
            ax.plot(x, np.log2(size), "o", color="tab:blue")
            ax.annotate(
                f"{name}\n{size}×{size}×{channels}",
                (x, np.log2(size)),
                fontsize=7,
                xytext=(-7, 0),
                textcoords="offset points",
                ha="right",
                va="center",
            )
        ax.plot(range(len(down)), [np.log2(s) for _, s, _ in down], color="tab:blue", lw=1)
        chain = decoder_chain(model)[1:]
        steps = upsampling_sizes(decoder_chain(model))[1:]
        xs = {size: len(down) - 1 + i + 1 for i, size in enumerate(steps)}
        for size in steps:
            layers = [(n, c) for n, s, c in chain if s == size]
            text = "\n".join(f"{n} {size}×{size}×{c}" for n, c in layers)
            ax.plot(xs[size], np.log2(size), "s", color="tab:orange")
            ax.annotate(
                text,
                (xs[size], np.log2(size)),
                fontsize=7,
                xytext=(6, -4),
                textcoords="offset points",
                ha="left",
                va="top",
            )
        ax.plot(
            [len(down) - 1, *xs.values()],
            [np.log2(s) for s in (down[-1][1], *steps)],
            color="tab:orange",
            lw=1,
        )
        for x, (name, size, _) in enumerate(down):
            use = uses.get(name)
            if use is None or use.merge is None:
                continue
            ax.annotate(
                "",
                xy=(xs[size], np.log2(size)),
                xytext=(x, np.log2(size)),
                arrowprops={"arrowstyle": "->", "color": "tab:green", "ls": "--"},
            )
            ax.text(
                (x + xs[size]) / 2,
                np.log2(size) + 0.08,
                "concat" if use.merge == "Concatenate" else f"add ({use.path[0]})",
                fontsize=7,
                color="tab:green",
                ha="center",
            )
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_xlim(-3.6, max(xs.values()) + 3.4)
        ax.set_yticks([np.log2(s) for s in (4, 8, 16, 32, 64, 128)], ["4", "8", "16", "32", "64", "128"])
        ax.set_ylim(1.3, 7.8)
    axes[0].set_ylabel("feature-map side (px, log scale)")
    fig.suptitle(
        f"Feature-map sizes at {IMAGE_SIZE}×{IMAGE_SIZE} input: encoder (blue), "
        "decoder (orange), skip connections (green)",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, "decoder_size_chain.png")


def draw_mask_resize(mask: np.ndarray) -> str:
    """The trimap resized both ways with the damaged pixels in black, and one source row resized
    alone, up close."""
    size = IMAGE_SIZE
    bilinear = resize_labels(mask, (size, size), "bilinear")
    nearest = resize_labels(mask, (size, size), "nearest")
    damage = resize_damage(mask, bilinear)
    bad = damage["fractional"] | damage["wrong"]
    colours = ListedColormap(["#d62728", "#cccccc", "#1f77b4", "#000000"])  # pet, background, border, damaged
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 1, 1.6]})
    axes[0].imshow(nearest, cmap=colours, vmin=0.5, vmax=4.5, interpolation="nearest")
    axes[0].set_title("nearest neighbour: labels 1, 2, 3 only", fontsize=9)
    axes[1].imshow(
        np.where(bad, 4, np.round(bilinear)), cmap=colours, vmin=0.5, vmax=4.5, interpolation="nearest"
    )
    axes[1].set_title(f"bilinear: {bad.sum():,} damaged pixels (black), all on edges", fontsize=9)

    ys, xs = np.nonzero(damage["wrong"])
    row, centre = ys[len(ys) // 2], xs[len(ys) // 2]  # a pixel bilinear gives a wrong class
    line = mask[int((row + 0.5) * mask.shape[0] / size)][None, :]  # the source row under it
    line_bilinear = resize_labels(line, (1, size), "bilinear")[0]
    line_nearest = resize_labels(line, (1, size), "nearest")[0]
    line_damage = resize_damage(line, line_bilinear[None, :])
    line_bad = (line_damage["fractional"] | line_damage["wrong"])[0]
    window = np.arange(max(centre - 10, 0), min(centre + 11, size))
    source_x = (np.arange(line.shape[1]) + 0.5) * size / line.shape[1] - 0.5  # in output columns
    shown = (source_x >= window[0] - 1) & (source_x <= window[-1] + 1)
    axes[2].step(source_x[shown], line[0, shown], where="mid", color="0.6", label="source row")
    axes[2].plot(window, line_nearest[window], "s", color="tab:blue", label="nearest")
    axes[2].plot(window, line_bilinear[window], "o", color="tab:orange", label="bilinear")
    damaged = window[line_bad[window]]
    axes[2].plot(damaged, line_bilinear[damaged], "o", ms=12, mfc="none", color="black", label="damaged")
    axes[2].set_yticks([1, 2, 3], ["1 pet", "2 background", "3 border"])
    axes[2].set_xlabel("output column")
    axes[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[2].set_title(f"the source row under output row {row}, resized alone", fontsize=9)
    for ax in axes[:2]:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.plot([window[0], window[-1]], [row, row], color="gold", lw=1.5)
    fig.suptitle(
        f"The {mask.shape[1]}×{mask.shape[0]} trimap of segpipe make-data --seed 0's "
        f"first image resized to {size}×{size} (red pet, grey background, blue border)",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, "mask_resize.png")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Rewrite the page's generated blocks and the figures, or with --check only compare."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare the page with the code; write nothing; exit 1 if it differs",
    )
    args = parser.parse_args(argv)
    models = build_reference_models()
    mask = sample_trimap()
    blocks = generated_blocks(models, mask, load_scratch_results())
    with open(PAGE, encoding="utf-8") as handle:
        page = handle.read()
    if args.check:
        on_page = read_blocks(page)
        stale = sorted(name for name in set(blocks) | set(on_page) if blocks.get(name) != on_page.get(name))
        print(f"out of date: {', '.join(stale)}" if stale else "up to date")
        return 1 if stale else 0
    rendered = render_page(page, blocks)  # before opening the page for writing: it may raise
    with open(PAGE, "w", encoding="utf-8") as handle:
        handle.write(rendered)
    os.makedirs(FIGURES_DIR, exist_ok=True)
    for path in (draw_size_chain(models), draw_mask_resize(mask)):
        print(f"wrote {path}")
    print(f"rewrote {len(blocks)} generated blocks in {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
