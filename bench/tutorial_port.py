"""A port of the TensorFlow "Image segmentation" tutorial's training code, for side-by-side runs.

Ported from the tutorial's Keras-2 version with the `Augment` layer (2022): `load_image` resizes
image and mask with `tf.image.resize` (bilinear for both in the original; the tutorial switched
the mask to nearest neighbour in Dec 2022, and public pipelines copied from it still have
bilinear, docs/stack.md), `normalize` divides the image by 255 and subtracts 1 from the mask;
`.cache().shuffle(1000).batch(B).repeat()` then `.map(Augment())` after batching; the U-Net on
MobileNetV2 (include_top=False) with pix2pix upsample blocks 512/256/128/64; Adam, sparse
cross-entropy from logits, 'accuracy'; `fit` with `steps_per_epoch = TRAIN_LENGTH // BATCH_SIZE`
and `validation_steps = TEST_LENGTH // BATCH_SIZE // VAL_SUBSPLITS` (a fifth of the test set).

Deviations, all recorded in `DEVIATIONS` and in the benchmark's JSON: no ImageNet weights
offline (weights=None, as on the pipeline side) and therefore a trainable encoder, since a
frozen random encoder learns nothing (docs/stack.md); the batch size, image size and epoch count are
the benchmark's; the data come from TFDS's real builder over the local synthetic files instead
of `tfds.load`'s download; the per-epoch display callback is left out.
"""

import dataclasses
from typing import List, Optional

import tensorflow as tf
import tensorflow_datasets as tfds
import tf_keras as keras

from trainer.models.upsample import upsample as pix2pix_upsample

BUFFER_SIZE = 1000
OUTPUT_CLASSES = 3
VAL_SUBSPLITS = 5
MASK_RESIZE_ORIGINAL = "bilinear"
MASK_RESIZE_FIXED = "nearest"
LAYER_NAMES = [
    "block_1_expand_relu",  # 64x64
    "block_3_expand_relu",  # 32x32
    "block_6_expand_relu",  # 16x16
    "block_13_expand_relu",  # 8x8
    "block_16_project",  # 4x4
]
DEVIATIONS = {
    "encoder_weights": "weights=None instead of ImageNet (no weights offline; same on the pipeline side)",
    "encoder_trainable": "down_stack.trainable = True instead of False, because a frozen random "
    "encoder learns nothing (docs/stack.md)",
    "bn_momentum": "kept at Keras' MobileNetV2 default 0.999 (the tutorial's behaviour); the "
    "project's Trainer uses 0.9 for an encoder trained from scratch",
    "batch_image_epochs": "BATCH_SIZE, image size and EPOCHS set to the benchmark's values "
    "(tutorial: 64, 128, 20)",
    "data_source": "TFDS's oxford_iiit_pet builder prepared from the local synthetic files "
    "(components.tfds_source.prepare) instead of tfds.load's download",
    "display_callback": "DisplayCallback (plots a prediction each epoch) left out; verbose=2 "
    "(a line per epoch, as the Trainer) instead of a progress bar",
    "seed": "keras.utils.set_random_seed(seed) before building, for repeatable runs",
    "validation_steps": "at least 1 (only matters for --quick's 50 test images)",
}


def normalize(input_image: tf.Tensor, input_mask: tf.Tensor):
    input_image = tf.cast(input_image, tf.float32) / 255.0
    input_mask -= 1
    return input_image, input_mask


def make_load_image(size: int, mask_method: str):
    """The tutorial's `load_image`, with its mask resize in the original (bilinear) or fixed form."""

    def load_image(datapoint):
        input_image = tf.image.resize(datapoint["image"], (size, size))
        if mask_method == MASK_RESIZE_ORIGINAL:
            input_mask = tf.image.resize(datapoint["segmentation_mask"], (size, size))
        else:
            input_mask = tf.image.resize(
                datapoint["segmentation_mask"], (size, size), method=tf.image.ResizeMethod.NEAREST_NEIGHBOR
            )
        return normalize(input_image, input_mask)

    return load_image


class Augment(keras.layers.Layer):
    """The tutorial's augmentation: both flips share a seed, so they make the same random changes."""

    def __init__(self, seed: int = 42):
        super().__init__()
        self.augment_inputs = keras.layers.RandomFlip(mode="horizontal", seed=seed)
        self.augment_labels = keras.layers.RandomFlip(mode="horizontal", seed=seed)

    def call(self, inputs, labels):
        inputs = self.augment_inputs(inputs)
        labels = self.augment_labels(labels)
        return inputs, labels


@dataclasses.dataclass
class TutorialData:
    """The tutorial's datasets and the step counts it derives from the split sizes."""

    train_batches: tf.data.Dataset
    test_batches: tf.data.Dataset
    train_length: int
    steps_per_epoch: int
    validation_steps: int


def input_pipelines(
    builder: tfds.core.DatasetBuilder, size: int, batch_size: int, mask_method: str = MASK_RESIZE_ORIGINAL
) -> TutorialData:
    """`dataset['train'|'test']` as the tutorial maps, caches, shuffles, batches and augments them."""
    dataset = {split: builder.as_dataset(split=split) for split in ("train", "test")}
    load_image = make_load_image(size, mask_method)
    train_images = dataset["train"].map(load_image, num_parallel_calls=tf.data.AUTOTUNE)
    test_images = dataset["test"].map(load_image, num_parallel_calls=tf.data.AUTOTUNE)
    train_batches = (
        train_images.cache()
        .shuffle(BUFFER_SIZE)
        .batch(batch_size)
        .repeat()
        .map(Augment())
        .prefetch(buffer_size=tf.data.AUTOTUNE)
    )
    test_batches = test_images.batch(batch_size)
    train_length = builder.info.splits["train"].num_examples
    test_length = builder.info.splits["test"].num_examples
    return TutorialData(
        train_batches=train_batches,
        test_batches=test_batches,
        train_length=train_length,
        steps_per_epoch=train_length // batch_size,
        validation_steps=max(1, test_length // batch_size // VAL_SUBSPLITS),
    )


def unet_model(output_channels: int, size: int, bn_momentum: Optional[float] = None) -> keras.Model:
    """The tutorial's `down_stack`, `up_stack` and `unet_model`, with a trainable random encoder.

    bn_momentum: None keeps Keras' 0.999 (the tutorial); 0.9 is the best variant a random
    encoder allows (the ablation's tutorial row), since 0.999's moving statistics lag far behind
    weights that change this fast.
    """
    base_model = keras.applications.MobileNetV2(input_shape=[size, size, 3], include_top=False, weights=None)
    if bn_momentum is not None:
        for layer in base_model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = bn_momentum
    base_model_outputs = [base_model.get_layer(name).output for name in LAYER_NAMES]
    down_stack = keras.Model(inputs=base_model.input, outputs=base_model_outputs)
    down_stack.trainable = True  # the tutorial freezes its ImageNet encoder; see DEVIATIONS
    up_stack = [
        pix2pix_upsample(512, 3),  # 4x4 -> 8x8
        pix2pix_upsample(256, 3),  # 8x8 -> 16x16
        pix2pix_upsample(128, 3),  # 16x16 -> 32x32
        pix2pix_upsample(64, 3),  # 32x32 -> 64x64
    ]
    inputs = keras.layers.Input(shape=[size, size, 3])
    skips = down_stack(inputs)
    x = skips[-1]
    skips = reversed(skips[:-1])
    for up, skip in zip(up_stack, skips):
        x = up(x)
        concat = keras.layers.Concatenate()
        x = concat([x, skip])
    last = keras.layers.Conv2DTranspose(
        filters=output_channels, kernel_size=3, strides=2, padding="same"
    )  # 64x64 -> 128x128
    x = last(x)
    return keras.Model(inputs=inputs, outputs=x)


def compiled_model(size: int, seed: int, bn_momentum: Optional[float] = None) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = unet_model(output_channels=OUTPUT_CLASSES, size=size, bn_momentum=bn_momentum)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def fit(
    model: keras.Model, data: TutorialData, epochs: int, callbacks: List[keras.callbacks.Callback]
) -> keras.callbacks.History:
    """The tutorial's `model.fit` call."""
    return model.fit(
        data.train_batches,
        epochs=epochs,
        steps_per_epoch=data.steps_per_epoch,
        validation_steps=data.validation_steps,
        validation_data=data.test_batches,
        callbacks=callbacks,
        verbose=2,
    )
