"""Prepares a TFDS dataset with its real builder, downloading as usual or from a local copy.

With internet, TFDS downloads the raw archives and prepares its TFRecord copy exactly as
`tfds.load` would. Offline (and on machines where the Oxford site is unreachable), `--data-dir`
points the real builder's download step at a local directory of the raw files in the dataset's
own layout (or holding the original archives): `LocalDownloadManager` answers the builder's
`download_and_extract` with those paths, so the builder's own parsing code runs end to end.

Each prepared copy lives in its own directory under the TFDS root, keyed by the input's
fingerprint, so a new span or changed files get a fresh copy and an unchanged input is reused.

A delivery on GCS (gs://...) is first copied to a local scratch folder through TFX's fileio,
because the raw-file check and its staging view (symlinks to the listed files) need local
files; the copy lasts only while the builder prepares.
"""

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from concurrent import futures
from typing import Any, Dict, List, Optional

import tensorflow_datasets as tfds
from etils import epath
from tfx.dsl.io import fileio

from components.tfds_example_gen import spans
from components.tfds_example_gen.data_quality import BadRecord, records_from_dicts
from components.tfds_example_gen.raw_files import RAW_FILE_CHECKS, StagedFiles, check_no_split_is_empty

RAW_CHECK_FILE = "raw_files_check.json"
# Files copied at once from GCS: a delivery is thousands of small files, each a request's latency.
_COPY_THREADS = 16


class LocalDownloadManager(tfds.download.DownloadManager):
    """A DownloadManager that serves the builder's URLs from a local directory.

        For each URL the builder asks for, the archive named like the URL's last path component
        is extracted if the directory holds it (`images.tar.gz`); otherwise the directory itself is
        the extracted archive. The dataset's raw-file check then stages a view without bad entries and
    records what it left out in `check_file`.
    """

    def __init__(
        self, *, local_dir: str, staging_dir: str, dataset: str, check_file: epath.Path, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self._local_dir = local_dir
        self._staging_dir = staging_dir
        self._dataset = dataset
        self._check_file = check_file

    def _local_root(self, url: Any) -> str:
        url = getattr(url, "url", url)
        archive = os.path.join(self._local_dir, os.path.basename(str(url).rstrip("/")))
        if os.path.isfile(archive):
            logging.info("extracting %s", archive)
            return os.fspath(super().extract(archive))
        return self._local_dir

    def download_and_extract(self, url_or_urls: Any) -> Any:
        if isinstance(url_or_urls, dict):
            roots = {key: self._local_root(url) for key, url in url_or_urls.items()}
        else:
            roots = {"root": self._local_root(url_or_urls)}
        check = RAW_FILE_CHECKS.get(self._dataset)
        staged = check(roots, self._staging_dir) if check else StagedFiles(roots, [], {}, {})
        # Written before the builder generates, so a prepared copy always has its check file.
        self._check_file.write_text(
            json.dumps(
                {"bad": [dataclasses.asdict(r) for r in staged.bad], "notes": staged.notes, "staged": True}
            )
        )
        check_no_split_is_empty(staged)  # before the builder fails on it with a stack trace
        paths = {key: epath.Path(path) for key, path in staged.roots.items()}
        return paths if isinstance(url_or_urls, dict) else paths["root"]

    def download(self, url_or_urls: Any) -> Any:
        raise RuntimeError(
            "offline mode: the builder asked to download without extracting "
            f"{url_or_urls}; this builder needs internet, not --data-dir"
        )


@dataclasses.dataclass
class PreparedDataset:
    """A prepared TFDS copy: where its files are, the raw entries left out before it, what the
    raw-file check noted, and whether its file names went through `staged_name`."""

    builder_dir: str
    bad_records: List[BadRecord]
    notes: Dict[str, int]
    staged: bool


def _local_copy(location: str, target: str) -> str:
    """Copies every file under location (any fileio filesystem, e.g. gs://) into target; returns
    target. FileNotFoundError names a location that holds no file."""
    location = location.rstrip("/")
    copies = []
    for directory, _, files in fileio.walk(location):
        relative = directory.rstrip("/")[len(location) :].lstrip("/")
        os.makedirs(os.path.join(target, relative), exist_ok=True)
        copies += [
            (f"{directory.rstrip('/')}/{name}", os.path.join(target, relative, name)) for name in files
        ]
    if not copies:
        raise FileNotFoundError(f"{location}: no files there to read (an empty or missing data folder)")
    logging.info("copying %d files from %s to %s", len(copies), location, target)
    with futures.ThreadPoolExecutor(_COPY_THREADS) as pool:
        list(pool.map(lambda pair: fileio.copy(*pair), copies))  # list(): raises a failed copy's error
    return target


def copy_key(name: str, version: str, local_dir: Optional[str], fingerprint: Optional[str]) -> str:
    """The directory name of one prepared copy: the builder and a digest of its input."""
    digest = hashlib.sha256(f"{name}|{version}|{local_dir}|{fingerprint}".encode()).hexdigest()[:12]
    return f"{name}-{'local' if local_dir else 'download'}-{digest}"


def prepare(
    name: str,
    version: str,
    tfds_root: str,
    local_dir: Optional[str] = None,
    fingerprint: Optional[str] = None,
) -> PreparedDataset:
    """Runs the builder's download_and_prepare (once per input) and returns the prepared copy.

    The root may be local or on GCS (epath), and so may local_dir; the staging view, the copy
    of a GCS delivery and extracted archives are temporary, since only the prepared copy is
    read afterwards.
    """
    root = epath.Path(tfds_root) / copy_key(name, version, local_dir, fingerprint)
    builder = tfds.builder(f"{name}:{version}", data_dir=os.fspath(root / "data"))
    check_file = root / RAW_CHECK_FILE
    root.mkdir(parents=True, exist_ok=True)
    if builder.is_prepared() and (not local_dir or check_file.exists()):
        logging.info("reusing the prepared TFDS copy in %s", builder.data_dir)
    elif local_dir:
        with tempfile.TemporaryDirectory(prefix="segpipe-raw-") as scratch:
            if spans.is_remote(local_dir):
                source = _local_copy(local_dir, os.path.join(scratch, "delivery"))
            else:
                source = os.path.abspath(local_dir)
            manager = LocalDownloadManager(
                local_dir=source,
                staging_dir=os.path.join(scratch, "staging"),
                dataset=name,
                check_file=check_file,
                download_dir=os.path.join(scratch, "downloads"),
                dataset_name=name,
            )
            # The builder creates its download manager in this hook; hand it ours instead.
            builder._make_download_manager = lambda download_dir, download_config: manager
            logging.info("preparing %s from the local files in %s", name, local_dir)
            builder.download_and_prepare()
    else:
        logging.info("downloading and preparing %s with TFDS", name)
        builder.download_and_prepare()
    check = json.loads(check_file.read_text()) if local_dir else {}
    if isinstance(check, list):  # a copy prepared by segpipe 0.1, which wrote the bad records only
        check = {"bad": check}
    return PreparedDataset(
        builder_dir=os.fspath(builder.data_dir),
        bad_records=records_from_dicts(check.get("bad", [])),
        notes=check.get("notes", {}),
        staged=bool(check.get("staged")),
    )
