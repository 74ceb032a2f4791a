"""The training losses: per-pixel cross-entropy (the tutorial's), cross-entropy plus soft Dice,
and focal loss.

Segmentation's classes are unbalanced (most pixels are background, the border class is a thin
band), and cross-entropy alone lets the rare class lose. Dice measures overlap per class, so a
class's few pixels count as much as a large class's many; focal loss turns down the pixels the
model already gets right. All three take logits (the models' last layer has no softmax) and
integer masks, and return one loss per pixel so that Keras applies per-pixel sample weights
(class weights, trainer/data.py) before it averages.
"""

import tensorflow as tf
import tf_keras as keras

LOSSES = ("cross_entropy", "cross_entropy_dice", "focal")
_SMOOTH = 1.0  # keeps Dice defined for a class absent from an image and its prediction


def soft_dice_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """1 - mean over classes of the soft Dice of each image: [batch]."""
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32))
    truth = tf.one_hot(tf.cast(labels, tf.int32), tf.shape(logits)[-1])
    overlap = tf.reduce_sum(truth * probabilities, axis=[1, 2])
    total = tf.reduce_sum(truth + probabilities, axis=[1, 2])
    dice = (2.0 * overlap + _SMOOTH) / (total + _SMOOTH)
    return 1.0 - tf.reduce_mean(dice, axis=-1)


class CrossEntropyDice(keras.losses.Loss):
    """Per-pixel cross-entropy plus the image's soft Dice loss (spread evenly over its pixels)."""

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        cross_entropy = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        return cross_entropy + soft_dice_loss(y_true, y_pred)[:, None, None]


class FocalLoss(keras.losses.Loss):
    """-(1 - p_t)^gamma log p_t per pixel (Lin et al., 2017): confident pixels count less."""

    def __init__(self, gamma: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.gamma = gamma

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        cross_entropy = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        p_true = tf.exp(-cross_entropy)
        return tf.pow(1.0 - p_true, self.gamma) * cross_entropy


def segmentation_loss(kind: str, focal_gamma: float = 2.0) -> keras.losses.Loss:
    """The loss named by the Trainer's --loss setting."""
    if kind == "cross_entropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if kind == "cross_entropy_dice":
        return CrossEntropyDice()
    if kind == "focal":
        return FocalLoss(focal_gamma)
    raise ValueError(f"unknown loss {kind!r}; accepted: {', '.join(LOSSES)}")
