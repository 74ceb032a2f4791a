"""The claims of docs/how-the-model-works.md, each checked on freshly built models or real layers,
and the page's generated blocks checked against what the code produces now.

Offline: every encoder is random (encoder_weights "none") or loaded from a weights file made here.
"""

import os
import re

# Before TensorFlow is imported: TFT and TFMA 1.16 work only with Keras 2 (tf_keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from contract.datasets import DEFAULT_DATASET, dataset_facts
from datagen.synthetic_pets import write_dataset
from docs import measure_scratch_training as measured
from docs import model_figures as figures
from trainer.models import build_model, trainable_summary
from trainer.models.encoder import (
    ENCODER_NAME,
    KERAS_BN_MOMENTUM,
    SCRATCH_BN_MOMENTUM,
    SKIP_LAYER_NAMES,
    build_encoder,
)
from trainer.preprocessing import decode_masks

LABELS = dataset_facts(DEFAULT_DATASET).mask_values  # 1 pet, 2 background, 3 border
DECODER_TRAINABLE = ["upsample_512", "upsample_256", "upsample_128", "upsample_64", "logits"]


@pytest.fixture(scope="module")
def models() -> figures.ReferenceModels:
    return figures.build_reference_models()


@pytest.fixture(scope="module")
def trimap() -> np.ndarray:
    return figures.sample_trimap()


def _rows(model: keras.Model) -> dict:
    return {row["name"]: row for row in trainable_summary(model)["blocks"]}


# --- 1. Which layers train -------------------------------------------------------------------


def test_frozen_encoder_trains_the_four_upsample_blocks_and_the_last_layer(models):
    model = models.unet_frozen
    rows = _rows(model)
    assert [name for name, row in rows.items() if row["trainable"]] == DECODER_TRAINABLE
    for name in DECODER_TRAINABLE[:-1]:
        block = model.get_layer(name)
        deconv, norm = block.layers[0], block.layers[1]
        # Both layers of the block train, not only a final Conv2DTranspose.
        assert isinstance(deconv, keras.layers.Conv2DTranspose) and deconv.trainable_weights
        assert isinstance(norm, keras.layers.BatchNormalization) and norm.trainable_weights
        c_in, filters = block.input_shape[-1], block.output_shape[-1]
        assert rows[name]["trainable"] == 3 * 3 * c_in * filters + 2 * filters  # kernel + γ, β
        assert rows[name]["frozen"] == rows[name]["bn_statistics"] == 2 * filters
    logits = model.get_layer("logits")
    assert rows["logits"]["trainable"] == 3 * 3 * logits.input_shape[-1] * 3 + 3
    # The page's per-layer table adds up to the same rows.
    for row in figures.decoder_parameters(model):
        assert (
            int(np.prod(row["kernel"])) + row["bias"] + row["bn_trainable"] == rows[row["name"]]["trainable"]
        )


def test_scratch_encoder_trains_every_block(models):
    rows = _rows(models.unet_scratch)
    encoder_rows = [row for name, row in rows.items() if name.startswith(f"{ENCODER_NAME}/")]
    assert len(encoder_rows) == 18  # Conv1, expanded_conv, block_1 .. block_16
    assert all(row["trainable"] > 0 for row in encoder_rows)
    assert all(row["frozen"] == row["bn_statistics"] for row in rows.values())
    frozen_rows = _rows(models.unet_frozen)
    assert {name: rows[name] for name in DECODER_TRAINABLE} == {
        name: frozen_rows[name] for name in DECODER_TRAINABLE
    }


def test_pretrained_weights_give_the_frozen_counts_the_page_shows(models, tmp_path):
    """The page's frozen table is built with random weights; pretrained ones freeze the same."""
    weights_file = str(tmp_path / "encoder.h5")
    build_encoder(figures.IMAGE_SIZE, "none").save_weights(weights_file)
    pretrained = build_model("unet", image_size=figures.IMAGE_SIZE, encoder_weights=weights_file)
    assert trainable_summary(pretrained) == trainable_summary(models.unet_frozen)


def _signal(outputs: list) -> list:
    """What measure_scratch_training records as a skip's signal, for each output."""
    return [float(np.mean(np.std(output.numpy(), axis=(0, 1, 2)))) for output in outputs]


def test_frozen_random_encoder_signal_collapses(models):
    """Frozen BatchNorm runs in inference mode; with initial statistics it rescales nothing and
    the random encoder's signal shrinks block after block, far below the decoder's BN epsilon;
    the same encoder normalising with batch statistics keeps its signal."""
    images = np.random.default_rng(0).random((4, figures.IMAGE_SIZE, figures.IMAGE_SIZE, 3), np.float32)
    frozen = models.unet_frozen.get_layer(ENCODER_NAME)
    inference = _signal(frozen(images, training=False))
    assert _signal(frozen(images, training=True)) == inference  # frozen BN ignores training=True
    assert all(deeper < shallower / 5 for shallower, deeper in zip(inference, inference[1:]))
    assert inference[-1] < 1e-6
    decoder_norms = [
        model_layer.layers[1]
        for model_layer in models.unet_frozen.layers
        if model_layer.name.startswith("upsample_")
    ]
    assert {norm.epsilon for norm in decoder_norms} == {1e-3}  # the ε the page cites
    assert inference[-1] ** 2 < 1e-3 * 1e-6

    scratch = models.unet_scratch.get_layer(ENCODER_NAME)
    untrained_statistics = _signal(scratch(images, training=False))
    batch_statistics = _signal(scratch(images, training=True))
    assert all(signal > 0.1 for signal in batch_statistics)
    assert untrained_statistics[-1] < 1e-6


@pytest.mark.parametrize("momentum", [KERAS_BN_MOMENTUM, SCRATCH_BN_MOMENTUM])
def test_bn_momentum_decides_how_far_moving_statistics_move(momentum):
    """After n training steps a share momentum**n of the initial moving mean is left: with
    0.999 and the measured run's step count the statistics have barely moved, with 0.9 they
    are the data's."""
    steps = figures.load_scratch_results()["settings"]["steps"]
    encoder = build_encoder(32, "none", trainable=True, bn_momentum=momentum)
    norm = encoder.get_layer("bn_Conv1")
    batch = tf.random.normal((4, 8, 8, norm.moving_mean.shape[0]), mean=3.0, seed=0)
    for _ in range(steps):
        norm(batch, training=True)
    batch_mean = tf.reduce_mean(batch, axis=[0, 1, 2]).numpy()
    moved = norm.moving_mean.numpy() / batch_mean
    np.testing.assert_allclose(moved, 1 - momentum**steps, rtol=1e-3)
    if momentum == KERAS_BN_MOMENTUM:
        assert moved.max() < 0.15
    else:
        assert moved.min() > 0.9999


@pytest.mark.slow
def test_short_runs_frozen_random_and_bn_0_999_predict_one_class(tmp_path):
    """Fresh, smaller runs of the page's measurement: in inference mode the frozen random
    encoder and the scratch encoder with momentum 0.999 predict (almost) one class, although
    the latter segments well above the majority in training mode."""
    write_dataset(str(tmp_path), n_train=64, n_test=16, seed=1)
    results = measured.measure(
        str(tmp_path),
        image_size=64,
        batch_size=8,
        steps=20,
        seed=0,
        runs=("frozen_random", "scratch_bn0.999"),
    )
    majority = results["test_majority_share"]
    for run in ("frozen_random", "scratch_bn0.999"):
        inference = results["runs"][run]["inference_mode"]
        assert max(inference["predicted_shares"]) > 0.9, (run, inference)
        assert inference["pixel_accuracy"] < majority + 0.03, (run, inference, majority)
    scratch = results["runs"]["scratch_bn0.999"]
    assert scratch["training_mode"]["pixel_accuracy"] > majority + 0.05, (scratch, majority)
    signal = scratch["inference_mode"]["skip_signal"]["block_16_project"]
    assert signal < scratch["training_mode"]["skip_signal"]["block_16_project"] / 100


def test_recorded_runs_support_the_page():
    """The figures the page cites (docs/figures/scratch_training.json) show what it claims."""
    results = figures.load_scratch_results()
    majority, runs = results["test_majority_share"], results["runs"]
    for run in ("frozen_random", "scratch_bn0.999"):
        assert max(runs[run]["inference_mode"]["predicted_shares"]) > 0.9
    healthy = runs["scratch_bn0.9"]["inference_mode"]
    assert healthy["pixel_accuracy"] > majority + 0.1
    assert sum(share > 0.05 for share in healthy["predicted_shares"]) >= 2
    assert (
        runs["scratch_bn0.9"]["training_mode"]["pixel_accuracy"]
        == runs["scratch_bn0.999"]["training_mode"]["pixel_accuracy"]
    )


# --- 2. 1×1 convolution ≡ Dense on every pixel -----------------------------------------------


@pytest.mark.parametrize("shape", [(1, 2, 2, 6), (2, 7, 5, 6)])
def test_1x1_convolution_is_a_dense_layer_on_every_pixel(shape):
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(shape[-1], 4)), rng.normal(size=4)
    conv, dense = keras.layers.Conv2D(4, 1), keras.layers.Dense(4)
    conv.build(shape)
    dense.build(shape)
    conv.set_weights([kernel.reshape(1, 1, shape[-1], 4), bias])
    dense.set_weights([kernel, bias])
    x = rng.normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(conv(x).numpy(), dense(x).numpy(), rtol=1e-5, atol=1e-5)
    per_pixel = x.reshape(-1, shape[-1]) @ kernel + bias
    np.testing.assert_allclose(conv(x).numpy().reshape(-1, 4), per_pixel, rtol=1e-4, atol=1e-4)


def test_fully_convolutional_weights_fit_every_multiple_of_32(models):
    sizes = {figures.IMAGE_SIZE: models.unet_scratch, **models.unet_at}
    shapes = {size: [tuple(w.shape) for w in model.weights] for size, model in sizes.items()}
    assert len({tuple(s) for s in shapes.values()}) == 1
    small = models.unet_at[64]
    small.set_weights(models.unet_scratch.get_weights())
    images = np.random.default_rng(0).random((1, 64, 64, 3), np.float32)
    assert small(images).shape == (1, 64, 64, 3)
    assert "multiple of 32" in figures.refusal(figures.REFUSED_SIZE)
    skips = figures.mobilenet_skip_sizes(figures.REFUSED_SIZE)
    assert 2 * skips[-1] != skips[-2]  # why the U-Net cannot be built at that size


# --- 3. Transposed convolution output sizes --------------------------------------------------


@pytest.mark.parametrize(
    "size, kernel, stride, padding, expected",
    [
        (4, 2, 2, "same", 8),
        (4, 2, 2, "valid", 8),
        (2, 3, 2, "same", 4),
        (2, 3, 2, "valid", 5),
        (3, 5, 2, "same", 6),
        (3, 5, 2, "valid", 9),
        (4, 3, 2, "same", 8),  # the U-Net's upsample blocks
    ],
)
def test_transposed_convolution_output_size(size, kernel, stride, padding, expected):
    assert figures.layer_output_size(size, kernel, stride, padding) == expected
    assert figures.transposed_output_size(size, kernel, stride, padding) == expected


def test_unet_decoder_doubles_from_4_to_128(models):
    chain = figures.decoder_chain(models.unet_frozen)
    assert figures.upsampling_sizes(chain) == [4, 8, 16, 32, 64, 128]
    doublings = [name for (name, size, _), (_, previous, _) in zip(chain[1:], chain) if size == 2 * previous]
    assert doublings == DECODER_TRAINABLE
    assert chain[-1] == ("logits", 128, 3)


def test_fcn8_last_step_is_fixed_bilinear_interpolation(models):
    final = models.fcn8.get_layer("logits")
    assert not final.trainable and final.kernel_size == (16, 16) and final.strides == (8, 8)
    scores = np.random.default_rng(0).random((1, 16, 16, 3), np.float32)
    upsampled = final(scores).numpy()
    bilinear = tf.image.resize(scores, (128, 128), method="bilinear").numpy()
    np.testing.assert_allclose(upsampled[:, 8:-8, 8:-8], bilinear[:, 8:-8, 8:-8], atol=1e-5)
    assert np.abs(upsampled - bilinear).max() > 0.1  # zeros beyond the edge, not a repeated edge
    nearest = tf.image.resize(scores, (128, 128), method="nearest").numpy()
    assert np.abs(upsampled - nearest)[:, 8:-8, 8:-8].max() > 0.1


def test_nearest_neighbour_is_a_transposed_convolution_with_a_box_kernel():
    channels = 3
    box = keras.layers.Conv2DTranspose(
        channels,
        2,
        strides=2,
        use_bias=False,
        kernel_initializer=keras.initializers.Constant(
            np.eye(channels).reshape(1, 1, channels, channels) * np.ones((2, 2, 1, 1))
        ),
    )
    x = np.random.default_rng(0).random((1, 5, 5, channels), np.float32)
    nearest = tf.image.resize(x, (10, 10), method="nearest").numpy()
    np.testing.assert_allclose(box(x).numpy(), nearest)
    np.testing.assert_allclose(keras.layers.UpSampling2D(2)(x).numpy(), nearest)


# --- 4. Skip connections ---------------------------------------------------------------------


def test_skip_connections_read_from_the_built_models(models):
    unet = {
        name: (use.size, use.path, use.merge)
        for name, use in figures.encoder_uses(models.unet_frozen).items()
    }
    assert unet == {
        "block_1_expand_relu": (64, ("concat_skip_stride2",), "Concatenate"),
        "block_3_expand_relu": (32, ("concat_skip_stride4",), "Concatenate"),
        "block_6_expand_relu": (16, ("concat_skip_stride8",), "Concatenate"),
        "block_13_expand_relu": (8, ("concat_skip_stride16",), "Concatenate"),
        "block_16_project": (4, ("upsample_512",), None),
    }
    fcn8 = {name: (use.size, use.path, use.merge) for name, use in figures.encoder_uses(models.fcn8).items()}
    assert fcn8 == {
        "block_6_expand_relu": (16, ("score_stride8", "fuse_stride8"), "Add"),
        "block_13_expand_relu": (8, ("score_stride16", "fuse_stride16"), "Add"),
        "block_16_project": (4, ("score_stride32", "upscore_stride32"), None),
    }
    assert figures.encoder_output_names(models.unet_frozen) == list(SKIP_LAYER_NAMES)
    # Concatenation adds channels; FCN-8s adds 3-channel score maps.
    concat = models.unet_frozen.get_layer("concat_skip_stride2")
    assert concat.output_shape[-1] == sum(shape[-1] for shape in concat.input_shape)
    assert models.fcn8.get_layer("fuse_stride8").output_shape[-1] == 3


# --- 5. Masks are labels, not pixels ---------------------------------------------------------


def test_bilinear_resize_damages_every_mask_edge_and_nearest_keeps_labels(trimap):
    size = figures.IMAGE_SIZE
    bilinear = figures.resize_labels(trimap, (size, size), "bilinear")
    damage = figures.resize_damage(trimap, bilinear)
    bad = damage["fractional"] | damage["wrong"]
    assert damage["wrong"].any()  # integer parts naming a class no source pixel has
    assert not (bad & ~damage["edge"]).any()  # only edges are damaged ...
    sources = figures.source_labels(trimap, (size, size))
    # One bit per label among a pixel's source pixels: 0b101 = pet and border, and so on.
    present = sum((sources == label).any(axis=0) << bit for bit, label in enumerate(LABELS))
    kinds = set(np.unique(present[damage["edge"]]).tolist())
    assert {0b101, 0b110} <= kinds  # pet | border and background | border edges
    for kind in kinds:  # ... and every kind of edge is
        assert (bad & (present == kind)).any(), bin(kind)
    # Between pet (1) and border (3), values such as 2.3 train as background (2).
    assert ((bilinear.astype(np.int64) == 2) & (sources != 2).all(axis=0)).any()

    nearest = figures.resize_labels(trimap, (size, size), "nearest")
    damage = figures.resize_damage(trimap, nearest)
    assert not damage["fractional"].any() and not damage["wrong"].any()
    assert set(np.unique(nearest)) <= set(LABELS)

    # Transform's own mask decoding is that nearest-neighbour resize, as class ids.
    png = tf.io.encode_png(trimap[..., None])
    classes = decode_masks(tf.reshape(png, [1]), size, LABELS).numpy()[0]
    np.testing.assert_array_equal(classes, nearest.astype(np.int64) - 1)


# --- the page --------------------------------------------------------------------------------


def test_page_generated_blocks_match_the_code(models, trimap):
    with open(figures.PAGE, encoding="utf-8") as handle:
        page = handle.read()
    expected = figures.generated_blocks(models, trimap, figures.load_scratch_results())
    on_page = figures.read_blocks(page)
    assert set(on_page) == set(expected)
    stale = [name for name in expected if on_page[name] != expected[name]]
    assert not stale, f"run `python -m docs.model_figures` to regenerate: {stale}"


def test_page_references_exist():
    """The figures, test files and tests the page points to are there."""
    with open(figures.PAGE, encoding="utf-8") as handle:
        page = handle.read()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page)
    assert images
    for image in images:
        assert os.path.isfile(os.path.join(figures.DOCS_DIR, image)), image
    root = os.path.dirname(figures.DOCS_DIR)
    for path, name in re.findall(r"`(tests/[\w/]+\.py)(?:::(test_\w+))?`", page):
        with open(os.path.join(root, path), encoding="utf-8") as handle:
            assert not name or f"def {name}(" in handle.read(), (path, name)
    for name in re.findall(r"`(test_\w+)`", page):  # bare names: tests of this file
        assert callable(globals().get(name)), name
