"""One resolver and one cache for every pretrained file tfdeepfake uses.

A pretrained file is found, in this order: a local path given by the user; ``$TFDEEPFAKE_WEIGHTS/<name>``;
``../shared/weights/<name>`` beside a source checkout; the cache ``~/.cache/tfdeepfake/<name>``
(``$TFDEEPFAKE_CACHE`` overrides); and last its commit-pinned public URL, downloaded once into the cache. Its
sha256 is checked wherever it came from. Offline, a URL fails fast with an error naming the URL and the
local-path option. Hugging Face checkpoints (a hub name) go through ``hub_snapshot`` into the same cache.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import WeightsError
from .storage import sha256_file

SHARED = Path(__file__).resolve().parents[2] / "shared" / "weights"


def cache_dir() -> Path:
    return Path(os.environ.get("TFDEEPFAKE_CACHE", Path.home() / ".cache" / "tfdeepfake"))


@dataclass(frozen=True)
class WeightsFile:
    """A pinned pretrained file: ``name`` is its path under a weights folder (and the cache)."""

    name: str
    sha256: str
    url: str


def verify(path: str | Path, sha256: str | None) -> str:
    """``path`` as a string after checking its sha256 (skipped when ``sha256`` is None)."""
    if sha256 and sha256_file(path) != sha256:
        raise WeightsError(f"{path}: sha256 {sha256_file(path)} does not match the pinned {sha256} "
                           "(a corrupted, truncated or different file)")
    return str(path)


def download(url: str, target: Path, timeout: float = 15.0) -> Path:
    """``url`` into ``target`` (written under a temporary name, then renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        partial.unlink(missing_ok=True)
        raise WeightsError(f"{url}: could not download ({error}); on a machine without internet, download the "
                           "file elsewhere and pass its local path") from error
    os.replace(partial, target)
    return target


def local_copy(spec: WeightsFile) -> Path | None:
    """The first copy of ``spec`` in the weights folders or the cache (not verified, nothing downloaded), or None.

    Lets a caller tell, without network, which pretrained files :func:`resolve` finds on this machine.
    """
    folders = [Path(os.environ["TFDEEPFAKE_WEIGHTS"])] if os.environ.get("TFDEEPFAKE_WEIGHTS") else []
    for folder in folders + [SHARED, cache_dir()]:
        candidate = folder / spec.name
        if candidate.is_file():
            return candidate
    return None


def resolve(spec: WeightsFile, local: str | None = None) -> str:
    """The local path of ``spec``, verified: an explicit ``local`` path, the weights folders, the cache, or the
    pinned URL downloaded into the cache."""
    if local is not None:
        if not os.path.isfile(local):
            raise WeightsError(f"{local}: weights file not found")
        return verify(local, spec.sha256)
    found = local_copy(spec)
    if found is not None:
        return verify(found, spec.sha256)
    target = download(spec.url, cache_dir() / spec.name)
    try:
        return verify(target, spec.sha256)
    except WeightsError:
        target.unlink(missing_ok=True)
        raise


def fetch(location: str, sha256: str | None = None, timeout: float = 15.0) -> str:
    """A user-given location: a local file as it is, or a URL downloaded once into the cache."""
    if "://" not in location:
        if not os.path.isfile(location):
            raise WeightsError(f"{location}: weights file not found")
        return verify(location, sha256)
    target = cache_dir() / "urls" / (hashlib.sha256(location.encode()).hexdigest()[:16] + "-"
                                     + location.rsplit("/", 1)[-1])
    if not target.is_file():
        download(location, target, timeout)
    return verify(target, sha256)


def hub_snapshot(path_or_name: str, required: str | None = None) -> str:
    """A local checkpoint folder as it is; a Hugging Face hub name downloaded into the cache."""
    if os.path.isdir(path_or_name):
        return path_or_name
    if os.path.exists(path_or_name) or path_or_name.startswith((".", "/")):
        raise WeightsError(f"{path_or_name}: not a checkpoint folder" + (f" ({required})" if required else ""))
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(path_or_name, cache_dir=str(cache_dir() / "hub"),
                                 allow_patterns=["*.json", "*.safetensors", "*.bin", "*.h5"])
    except Exception as error:  # no network, unknown repository, ...
        raise WeightsError(f"{path_or_name}: could not download from the Hugging Face hub ({error}); "
                           "download it where you have internet and pass the local folder") from error
