"""Measure what training without ImageNet weights does: the figures behind claim 1 of
docs/how-the-model-works.md ("why a frozen random encoder learns nothing", "why BatchNorm
momentum 0.999 predicts one class after a short scratch run").

Offline there are no ImageNet weights, so the tutorial's recipe meets a random encoder. Three
short runs of the tutorial's U-Net on the project's synthetic Oxford-IIIT Pet data (written by
`datagen.synthetic_pets`, decoded by Transform's own decode functions) show what happens:

- frozen_random: encoder_weights "none", encoder frozen (the tutorial's code, offline);
- scratch_bn0.999: the encoder trains from scratch with Keras' BatchNorm momentum 0.999;
- scratch_bn0.9: the same with momentum 0.9, the project's default for a scratch encoder.

Each run is scored on held-out images twice: in inference mode (BatchNorm uses its moving
statistics: what the Evaluator and serving see) and in training mode (batch statistics: what
Keras' training accuracy reflects). How much image-dependent signal the encoder's five skip
outputs carry is recorded in both modes too, because that is where the runs differ.

    python -m docs.measure_scratch_training   # about 2 CPU minutes; writes docs/figures/scratch_training.json
    python -m docs.model_figures              # then regenerate the page's blocks that cite it

CPU TensorFlow is not bit-reproducible, so a rerun moves the figures a little; the claims they
support are asserted on fresh, smaller runs by tests/trainer/test_model_claims.py.
"""

import os

# Before TensorFlow is imported: TFT and TFMA 1.16 work only with Keras 2 (tf_keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse
import json
import sys
import tempfile
from typing import Any, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from contract import oxford_pets as layout
from contract.datasets import DEFAULT_DATASET, dataset_facts
from datagen.synthetic_pets import write_dataset
from trainer.models import build_model
from trainer.models.encoder import (
    ENCODER_NAME,
    KERAS_BN_MOMENTUM,
    SCRATCH_BN_MOMENTUM,
    SKIP_LAYER_NAMES,
)
from trainer.preprocessing import decode_images, decode_masks

RESULTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures", "scratch_training.json")
COMMAND = "python -m docs.measure_scratch_training"
# build_model arguments of each run; encoder_weights is "none" in all of them.
RUNS: dict[str, dict[str, Any]] = {
    "frozen_random": {"freeze_encoder": True},
    "scratch_bn0.999": {"freeze_encoder": False, "bn_momentum": KERAS_BN_MOMENTUM},
    "scratch_bn0.9": {"freeze_encoder": False, "bn_momentum": SCRATCH_BN_MOMENTUM},
}
LEARNING_RATE = 1e-3  # the Trainer's default, with Adam


def load_split(root: str, split: str, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images in [0, 1] and class-id masks of one split of an Oxford-layout directory.

    Decoded by Transform's own functions (bilinear images, nearest-neighbour masks), so the
    runs train on the tensors the pipeline's Trainer reads (without its flip augmentation).
    """
    entries = layout.parse_list_file(layout.list_file_path(root, split))
    images = [tf.io.read_file(layout.image_path(root, entry)) for entry in entries]
    masks = [tf.io.read_file(layout.trimap_path(root, entry)) for entry in entries]
    decoded, _ = decode_images(tf.stack(images), image_size)
    classes = decode_masks(tf.stack(masks), image_size, dataset_facts(DEFAULT_DATASET).mask_values)
    return decoded.numpy(), classes.numpy().astype(np.int32)


def score(predicted: np.ndarray, truth: np.ndarray, num_classes: int) -> dict:
    """Pixel accuracy, mean IoU and the share of pixels predicted as each class."""
    confusion = np.bincount(
        truth.ravel() * num_classes + predicted.ravel(), minlength=num_classes**2
    ).reshape(num_classes, num_classes)
    union = confusion.sum(0) + confusion.sum(1) - np.diag(confusion)
    iou = np.diag(confusion) / np.maximum(union, 1)
    return {
        "pixel_accuracy": round(float(np.trace(confusion) / confusion.sum()), 4),
        "mean_iou": round(float(iou.mean()), 4),
        "predicted_shares": [round(float(share), 4) for share in confusion.sum(0) / confusion.sum()],
    }


def skip_signal(model: keras.Model, images: np.ndarray, training: bool) -> dict:
    """Per encoder skip output, the standard deviation of each channel over images and pixels,
    averaged over channels: how much image-dependent signal reaches the decoder (a constant
    offset, such as a BatchNorm beta, carries none)."""
    outputs = model.get_layer(ENCODER_NAME)(images, training=training)
    return {
        name: float(f"{np.mean(np.std(output.numpy(), axis=(0, 1, 2))):.3g}")
        for name, output in zip(SKIP_LAYER_NAMES, outputs)
    }


def train_and_measure(
    run: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    batch_size: int,
    steps: int,
    seed: int,
) -> dict:
    """Train run `run` (a key of RUNS) for `steps` steps of `batch_size`, then score it.

    Inference mode is measured first: a training-mode call updates the moving statistics of
    every trainable BatchNorm layer, which would change what inference mode sees.
    """
    keras.utils.set_random_seed(seed)
    images, masks = train
    model = build_model("unet", image_size=images.shape[1], encoder_weights="none", **RUNS[run])
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    batches = (
        tf.data.Dataset.from_tensor_slices((images, masks))
        .shuffle(len(images), seed=seed)
        .repeat()
        .batch(batch_size)
    )
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)

    test_images, test_masks = test
    num_classes = model.output_shape[-1]
    result: dict[str, Any] = {"build_model": {"encoder_weights": "none", **RUNS[run]}}
    for mode, training in (("inference_mode", False), ("training_mode", True)):
        predicted = np.argmax(model(test_images, training=training), axis=-1)
        result[mode] = {
            **score(predicted, test_masks, num_classes),
            "skip_signal": skip_signal(model, test_images, training),
        }
    return result


def measure(
    data_dir: str,
    *,
    image_size: int,
    batch_size: int,
    steps: int,
    seed: int,
    runs: Sequence[str] = tuple(RUNS),
) -> dict:
    """Every run in `runs` on the train/test splits under `data_dir`, with the test split's
    majority-class share (the pixel accuracy of predicting one class everywhere) and the test
    images' own signal, measured as `skip_signal` measures the encoder's outputs."""
    train = load_split(data_dir, "train", image_size)
    test = load_split(data_dir, "test", image_size)
    class_shares = np.bincount(test[1].ravel()) / test[1].size
    return {
        "settings": {
            "image_size": image_size,
            "train_images": len(train[0]),
            "test_images": len(test[0]),
            "batch_size": batch_size,
            "steps": steps,
            "learning_rate": LEARNING_RATE,
            "seed": seed,
        },
        "test_majority_share": round(float(class_shares.max()), 4),
        "test_image_signal": float(f"{np.mean(np.std(test[0], axis=(0, 1, 2))):.3g}"),
        "runs": {
            run: train_and_measure(run, train, test, batch_size=batch_size, steps=steps, seed=seed)
            for run in runs
        },
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Write a synthetic dataset to a temporary directory, run every run, record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--train", type=int, default=480, help="synthetic training images")
    parser.add_argument("--test", type=int, default=64, help="synthetic held-out images")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--steps", type=int, default=120, help="training steps (120: the short run docs/stack.md describes)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=RESULTS_FILE)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as data_dir:
        write_dataset(data_dir, n_train=args.train, n_test=args.test, seed=args.seed)
        results = measure(
            data_dir, image_size=args.image_size, batch_size=args.batch_size, steps=args.steps, seed=args.seed
        )
    results = {
        "command": " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])]),
        "data": f"datagen.synthetic_pets.write_dataset(n_train="
        f"{args.train}, n_test={args.test}, seed={args.seed})",
        **results,
    }
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)  # in run order, as the page lists them
        handle.write("\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
