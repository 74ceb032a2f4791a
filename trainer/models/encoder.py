"""MobileNetV2 encoder (the tutorial's `down_stack`) with skip outputs, freezing and BN control.

Input images are expected in [0, 1] (the pipeline's Transform scales them so). MobileNetV2 was
trained on [-1, 1], so the encoder starts with a named Rescaling layer (x * 2 - 1): the scaling
lives in the model, hence in the exported SavedModel, and serving cannot forget it.

Why the BatchNorm momentum is configurable: Keras' MobileNetV2 uses 0.999, so after a few hundred
steps from random initialisation the moving statistics are still near their initial values and
the model predicts a single class in inference mode (measured: docs/how-the-model-works.md,
section 1, and docs/stack.md, "Training without ImageNet weights"). A from-scratch encoder
therefore gets momentum 0.9 by default.
"""

import re

import h5py
import tensorflow as tf
import tf_keras as keras

ENCODER_NAME = "encoder"
RESCALE_LAYER_NAME = "scale_to_minus1_1"
# Skip outputs at strides 2, 4, 8, 16 and 32, as in the tutorial.
SKIP_LAYER_NAMES = (
    "block_1_expand_relu",
    "block_3_expand_relu",
    "block_6_expand_relu",
    "block_13_expand_relu",
    "block_16_project",
)
KERAS_BN_MOMENTUM = 0.999
SCRATCH_BN_MOMENTUM = 0.9
WEIGHTS_IMAGENET = "imagenet"
WEIGHTS_NONE = "none"


def block_of(layer_name: str) -> str | None:
    """MobileNetV2 block a layer belongs to: `Conv1` (stem), `expanded_conv`, `block_<n>`,
    `Conv_1`; None for layers outside the blocks (input, rescaling)."""
    if layer_name in ("Conv1", "bn_Conv1", "Conv1_relu"):
        return "Conv1"
    if layer_name in ("Conv_1", "Conv_1_bn", "out_relu"):
        return "Conv_1"
    if layer_name.startswith("expanded_conv"):
        return "expanded_conv"
    match = re.match(r"block_\d+", layer_name)
    return match.group(0) if match else None


def build_encoder(
    image_size: int,
    weights: str = WEIGHTS_NONE,
    trainable: bool | None = None,
    bn_momentum: float | None = None,
) -> keras.Model:
    """Build the encoder: input [0, 1] images of `image_size`², output the five skip tensors.

    weights: "imagenet" (Keras' file from ~/.keras or downloaded), "none" (random init), or the
      path of a legacy-HDF5 weights file of MobileNetV2 without top (Keras' no-top file, or one
      saved from this encoder with `save_weights("x.h5")`); loaded by layer name, and every
      encoder layer with weights must be in the file.
    trainable: defaults to frozen with pretrained weights and trainable with "none" (a frozen
      random encoder learns nothing).
    bn_momentum: momentum of every BatchNormalization layer; defaults to 0.9 when the encoder is
      trained from scratch, else Keras' 0.999.
    """
    if image_size < 32 or image_size % 32:
        raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
    pretrained = weights != WEIGHTS_NONE
    if trainable is None:
        trainable = not pretrained
    if bn_momentum is None:
        bn_momentum = SCRATCH_BN_MOMENTUM if trainable and not pretrained else KERAS_BN_MOMENTUM

    inputs = keras.Input(shape=[image_size, image_size, 3], name="encoder_image")
    scaled = keras.layers.Rescaling(2.0, offset=-1.0, name=RESCALE_LAYER_NAME)(inputs)
    base = keras.applications.MobileNetV2(
        input_tensor=scaled,
        include_top=False,
        weights=WEIGHTS_IMAGENET if weights == WEIGHTS_IMAGENET else None,
    )
    encoder = keras.Model(
        inputs,
        [base.get_layer(name).output for name in SKIP_LAYER_NAMES],
        name=ENCODER_NAME,
    )
    if pretrained and weights != WEIGHTS_IMAGENET:
        _load_weights_file(encoder, weights)
    for layer in encoder.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum  # read at call time, so it takes effect when training
    encoder.trainable = trainable
    return encoder


def _load_weights_file(encoder: keras.Model, path: str) -> None:
    """Load weights by layer name, refusing a file that would leave encoder layers random."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"encoder weights file not found: {path}")
    with tf.io.gfile.GFile(path, "rb") as handle, h5py.File(handle, "r") as h5:
        group = h5.get("model_weights", h5)
        if "layer_names" not in group.attrs:
            raise ValueError(f"{path} is not a legacy-HDF5 Keras weights file")
        names = {n.decode() if isinstance(n, bytes) else n for n in group.attrs["layer_names"]}
    missing = [layer.name for layer in encoder.layers if layer.weights and layer.name not in names]
    if missing:
        raise ValueError(f"{path} has no weights for {len(missing)} encoder layers, e.g. {missing[:5]}")
    encoder.load_weights(path, by_name=True)


def unfreeze_encoder_from(model: keras.Model, block_name: str) -> None:
    """Make the encoder trainable from `block_name` to its end and freeze the layers before it.

    For the optional fine-tuning phase. `block_name` is a layer name ("block_13_expand") or a
    block prefix ("block_13", "expanded_conv", "Conv1"). Frozen BatchNorm layers run in inference
    mode (Keras does so for any BN layer with trainable=False). `model` is a model containing the
    encoder (or the encoder itself); recompile it afterwards for the change to take effect.
    """
    encoder = model if model.name == ENCODER_NAME else model.get_layer(ENCODER_NAME)
    names = [layer.name for layer in encoder.layers]
    start = next((i for i, name in enumerate(names) if block_name in (name, block_of(name))), None)
    if start is None:
        blocks = list(dict.fromkeys(b for b in map(block_of, names) if b))
        raise ValueError(
            f"no encoder layer or block {block_name!r}; valid block prefixes: {', '.join(blocks)}"
        )
    encoder.trainable = True
    for layer in encoder.layers[:start]:
        layer.trainable = False


def encoder_features(
    image_size: int,
    weights: str = WEIGHTS_NONE,
    freeze_encoder: bool | None = None,
    bn_momentum: float | None = None,
) -> tuple:
    """The model input and the encoder's five feature maps on it, for a decoder to build on.

    freeze_encoder=None keeps `build_encoder`'s default (frozen only with pretrained weights).
    """
    trainable = None if freeze_encoder is None else not freeze_encoder
    encoder = build_encoder(image_size, weights, trainable, bn_momentum)
    inputs = keras.Input(shape=[image_size, image_size, 3], name="image")
    return inputs, encoder(inputs)
