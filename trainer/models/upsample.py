"""The pix2pix upsample block used by the tutorial's U-Net decoder.

`tensorflow-examples` (home of `pix2pix.upsample`) is not on PyPI, so the block is written here,
layer for layer as in pix2pix: Conv2DTranspose (stride 2, no bias, N(0, 0.02) kernel init)
-> BatchNormalization -> optional Dropout(0.5) -> ReLU.
"""

import tf_keras as keras


def upsample(
    filters: int, size: int, apply_dropout: bool = False, name: str | None = None
) -> keras.Sequential:
    """Return a block that doubles height and width and outputs `filters` channels.

    `name` defaults to ``upsample_<filters>``; pass one when a model uses two blocks with the
    same filter count (top-level layer names must be unique).
    """
    name = name or f"upsample_{filters}"
    layers = [
        keras.layers.Conv2DTranspose(
            filters,
            size,
            strides=2,
            padding="same",
            kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
            use_bias=False,
            name=f"{name}_deconv",
        ),
        keras.layers.BatchNormalization(name=f"{name}_bn"),
    ]
    if apply_dropout:
        layers.append(keras.layers.Dropout(0.5, name=f"{name}_dropout"))
    layers.append(keras.layers.ReLU(name=f"{name}_relu"))
    return keras.Sequential(layers, name=name)
