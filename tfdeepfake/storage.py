"""Paths that are either local or URLs of a file system tf.io.gfile reads (gs://; ram:// in memory, for tests;
s3:// and hdfs:// only with a TensorFlow file-system plugin, else such a file fails as unreadable).

A URL is told apart by its scheme alone, without touching the network, and is never passed through ``os.path``
normalisation (``os.path.abspath`` and ``normpath`` turn ``gs://bucket/a`` into ``.../gs:/bucket/a``). URLs are read
with ``tf.io.gfile``; TensorFlow is imported only when one is met.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path) -> bool:
    """True for ``scheme://...`` (gs://, s3://, ram://, ...), False for a local path, relative or absolute."""
    return bool(_SCHEME.match(os.fspath(path)))


def folder_of(path: str) -> str:
    """The folder holding ``path``: absolute for a local path, the URL's parent for a URL."""
    return posixpath.dirname(path) if is_url(path) else os.path.dirname(os.path.abspath(path))


def resolve(path: str, folder: str) -> str:
    """A path read from a listing in ``folder``: URLs and absolute paths as they are, others below ``folder``."""
    if is_url(path) or os.path.isabs(path):
        return path
    return posixpath.join(folder, path) if is_url(folder) else os.path.join(folder, path)


def first_line(message: str) -> str:
    """The first line of a file system's error message (TensorFlow's run on with context)."""
    return next((line.strip() for line in message.splitlines() if line.strip()), "no detail given")


def open_text(path: str):
    """A text handle for reading a local file or a URL; FileNotFoundError when there is none."""
    if not is_url(path):
        return open(path, newline="", encoding="utf-8")
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    return tf.io.gfile.GFile(path, "r")


def local_folder(path: str) -> str:
    """``path`` itself for a local folder; for a URL, a local copy of the folder tree (removed when the process
    exits). For readers that need local files, e.g. a SavedModel folder with its bundle.json."""
    if not is_url(path):
        return path
    import atexit
    import shutil
    import tempfile

    import tensorflow as tf

    root = path.rstrip("/")
    if not tf.io.gfile.isdir(root):
        raise FileNotFoundError(f"{path}: no such folder")
    target = tempfile.mkdtemp(prefix="tfdeepfake-")
    atexit.register(shutil.rmtree, target, True)
    for folder, _, names in tf.io.gfile.walk(root):
        local = os.path.join(target, *folder[len(root):].strip("/").split("/"))
        os.makedirs(local, exist_ok=True)
        for name in names:
            tf.io.gfile.copy(posixpath.join(folder, name), os.path.join(local, name), overwrite=True)
    return target


def sha256_file(path) -> str:
    """The hex sha256 of a file, local or gs:// (read in 4 MB blocks): the one checksum of the package."""
    if is_url(path):
        import tensorflow as tf

        opened = tf.io.gfile.GFile(path, "rb")
    else:
        opened = open(path, "rb")
    digest = hashlib.sha256()
    with opened as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
