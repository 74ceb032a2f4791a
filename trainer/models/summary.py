"""Which layers train? Trainable and frozen parameter counts per encoder block and decoder layer.

Keras' `model.summary()` shows the nested encoder as one line; users fine-tuning or training
from scratch need to see, block by block, what is frozen. Encoder layers are grouped by their
MobileNetV2 block (`Conv1` stem, `expanded_conv`, `block_1` ... `block_16`, `Conv_1`); each
other top-level layer with weights (upsample blocks, score and upsampling layers, the logits
layer) is its own row. BatchNorm moving means and variances are never trainable: they count as
frozen, and the `bn_statistics` column shows how much of `frozen` they are, so that trainable +
frozen equals `model.count_params()`.
"""

import numpy as np
import tf_keras as keras

from trainer.models.encoder import ENCODER_NAME, block_of

_COLUMNS = ("trainable", "frozen", "bn_statistics")


def trainable_summary(model: keras.Model) -> dict:
    """Return {"blocks": [{"name", "trainable", "frozen", "bn_statistics"}, ...], "trainable",
    "frozen", "bn_statistics", "total"}; blocks in model order, only those with weights."""
    trainable_ids = {id(w) for w in model.trainable_weights}
    rows: dict[str, dict] = {}

    def add(name: str, layer: keras.layers.Layer) -> None:
        row = rows.setdefault(name, {"name": name, **dict.fromkeys(_COLUMNS, 0)})
        for weight in layer.weights:
            size = int(np.prod(weight.shape))
            row["trainable" if id(weight) in trainable_ids else "frozen"] += size
            if not weight.trainable:  # created non-trainable: BN moving mean/variance
                row["bn_statistics"] += size

    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name == ENCODER_NAME and isinstance(layer, keras.Model):
            for inner in layer.layers:
                if inner.weights:
                    add(f"{ENCODER_NAME}/{block_of(inner.name) or inner.name}", inner)
        else:
            add(layer.name, layer)
    blocks = list(rows.values())
    totals = {column: sum(row[column] for row in blocks) for column in _COLUMNS}
    return {"blocks": blocks, **totals, "total": totals["trainable"] + totals["frozen"]}


def format_trainable_summary(summary: dict) -> str:
    """Render `trainable_summary` output as a fixed-width table."""
    width = max(len("total"), *(len(row["name"]) for row in summary["blocks"]))
    header = f"{'block':<{width}}  {'trainable':>11}  {'frozen':>11}  {'(BN stats)':>11}"
    lines = [header, "-" * len(header)]
    for row in [*summary["blocks"], None, {"name": "total", **summary}]:
        if row is None:
            lines.append("-" * len(header))
            continue
        counts = "  ".join(f"{row[column]:>11,}" for column in _COLUMNS)
        lines.append(f"{row['name']:<{width}}  {counts}")
    lines.append(
        f"total parameters: {summary['total']:,} "
        f"(trainable {summary['trainable']:,}, frozen {summary['frozen']:,}; frozen includes "
        f"{summary['bn_statistics']:,} BatchNorm moving statistics, never trainable)"
    )
    return "\n".join(lines)
