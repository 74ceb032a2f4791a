"""A stand-in for Cloud Storage: gs://BUCKET/PATH served from a local folder through TFX's fileio.

TFX's drivers and utilities reach files only through `tfx.dsl.io.fileio`, whose filesystem
registry picks a plugin by URL scheme; registering this one for gs:// makes every fileio call on a
gs:// path read and write ROOT/BUCKET/PATH instead. Code that bypassed fileio (os, glob, or
tf.io.gfile on a gs:// path) would reach for the real service, which the tests cannot reach, and
fail: so a test that passes through it shows the code under test reads GCS the way it must.
"""

import os
from typing import Any, Callable, Iterable, List, Optional, Tuple, Type

import pytest
from tfx.dsl.io import filesystem, filesystem_registry
from tfx.dsl.io.plugins.tensorflow_gfile import TensorflowFilesystem

SCHEME = "gs://"


def install(root: str, monkeypatch: pytest.MonkeyPatch) -> Type[filesystem.Filesystem]:
    """Serves gs:// from root for the rest of the test; returns the filesystem class."""

    def local(path: Any) -> str:
        path = os.fsdecode(path)
        if not path.startswith(SCHEME):
            raise ValueError(f"{path}: not a {SCHEME} path")
        return os.path.join(root, path[len(SCHEME) :])

    def remote(path: str) -> str:
        return SCHEME + os.path.relpath(path, root)

    class FakeGcs(filesystem.Filesystem):
        SUPPORTED_SCHEMES = [SCHEME]

        @staticmethod
        def open(name: Any, mode: str = "r") -> Any:
            if "w" in mode or "a" in mode:
                os.makedirs(os.path.dirname(local(name)), exist_ok=True)  # GCS has no folders to make
            return TensorflowFilesystem.open(local(name), mode)

        @staticmethod
        def copy(src: Any, dst: Any, overwrite: bool = False) -> None:
            TensorflowFilesystem.copy(local(src), local(dst), overwrite)

        @staticmethod
        def exists(path: Any) -> bool:
            return TensorflowFilesystem.exists(local(path))

        @staticmethod
        def glob(pattern: Any) -> List[Any]:
            return [remote(path) for path in TensorflowFilesystem.glob(local(pattern))]

        @staticmethod
        def isdir(path: Any) -> bool:
            return TensorflowFilesystem.isdir(local(path))

        @staticmethod
        def listdir(path: Any) -> List[Any]:
            return TensorflowFilesystem.listdir(local(path))

        @staticmethod
        def makedirs(path: Any) -> None:
            TensorflowFilesystem.makedirs(local(path))

        @staticmethod
        def mkdir(path: Any) -> None:
            TensorflowFilesystem.mkdir(local(path))

        @staticmethod
        def remove(path: Any) -> None:
            TensorflowFilesystem.remove(local(path))

        @staticmethod
        def rename(src: Any, dst: Any, overwrite: bool = False) -> None:
            TensorflowFilesystem.rename(local(src), local(dst), overwrite)

        @staticmethod
        def rmtree(path: Any) -> None:
            TensorflowFilesystem.rmtree(local(path))

        @staticmethod
        def stat(path: Any) -> Any:
            return TensorflowFilesystem.stat(local(path))

        @staticmethod
        def walk(
            top: Any, topdown: bool = True, onerror: Optional[Callable[..., None]] = None
        ) -> Iterable[Tuple[Any, List[Any], List[Any]]]:
            for directory, subdirs, files in TensorflowFilesystem.walk(local(top), topdown, onerror):
                yield remote(directory), subdirs, files

    registry = filesystem_registry.DEFAULT_FILESYSTEM_REGISTRY
    monkeypatch.setitem(registry._preferred_filesystem_by_scheme, SCHEME, FakeGcs)
    return FakeGcs
