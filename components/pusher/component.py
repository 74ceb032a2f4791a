"""Pusher: TFX's Pusher with the versioned, atomic executor (executor.py)."""

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.pusher.executor import KEEP_VERSIONS_KEY, MODEL_NAME_KEY, Executor


class Pusher(tfx.components.Pusher):
    """Pushes blessed models as TF Serving versions 1, 2, 3... under `base_directory`."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        *,
        model: tfx.dsl.Channel,
        model_blessing: tfx.dsl.Channel,
        base_directory: str,
        model_name: str,
        keep_versions: int,
    ):
        super().__init__(
            model=model,
            model_blessing=model_blessing,
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=base_directory)
            ),
            custom_config={KEEP_VERSIONS_KEY: keep_versions, MODEL_NAME_KEY: model_name},
        )
