"""Speaker verification with x-vectors: pairwise cosine scores and embedding plots for a set of files.

    tfdeepfake xvectors a.wav b.flac c.mp3 --checkpoint checkpoints/wavlm-base-sv --out runs/verify

Writes ``scores.csv`` (file_a, file_b, cosine), ``embeddings.npy``, and ``pca.png`` / ``tsne.png``.
"""
from __future__ import annotations

import csv
import itertools
import os

import tfdeepfake  # noqa: F401

import numpy as np
import tensorflow as tf

from .audio import load_audio


def embed_files(model, paths, sample_rate: int = 16000) -> np.ndarray:
    """(files, dim) x-vector embeddings, one file at a time (any length)."""
    return np.stack([model(tf.constant(load_audio(p, sample_rate)[0][None]))["embeddings"].numpy()[0]
                     for p in paths])


def cosine_matrix(embeddings: np.ndarray) -> np.ndarray:
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    return unit @ unit.T


def plot(embeddings: np.ndarray, names, out_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    written = []
    projections = {"pca": PCA(2).fit_transform(embeddings)}
    if len(embeddings) > 3:
        projections["tsne"] = TSNE(2, perplexity=min(30.0, len(embeddings) - 1.0), init="pca",
                                   random_state=0).fit_transform(embeddings)
    for kind, points in projections.items():
        fig, axis = plt.subplots(figsize=(6, 5))
        axis.scatter(points[:, 0], points[:, 1])
        for (x, y), name in zip(points, names):
            axis.annotate(name, (x, y), fontsize=7)
        axis.set_title(f"x-vectors, {kind.upper()}")
        path = os.path.join(out_dir, f"{kind}.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def verify_speakers(files, checkpoint: str, out: str) -> list[str]:
    """Embed ``files`` with the WavLMForXVector at ``checkpoint``; write embeddings.npy, scores.csv (every pair's
    cosine) and the plots to ``out``; returns the written paths."""
    from .models.ssl.checkpoints import load_wavlm_xvector

    model = load_wavlm_xvector(checkpoint)
    embeddings = embed_files(model, files)
    scores = cosine_matrix(embeddings)
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "embeddings.npy"), embeddings)
    with open(os.path.join(out, "scores.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file_a", "file_b", "cosine"])
        for i, j in itertools.combinations(range(len(files)), 2):
            writer.writerow([files[i], files[j], f"{scores[i, j]:.6f}"])
    return [os.path.join(out, "scores.csv")] + plot(embeddings, [os.path.basename(p) for p in files], out)
