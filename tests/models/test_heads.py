"""The metric-learning pieces training uses (pairwise distances, supervised contrastive loss) against numpy
references; a head trained with them learns."""
import numpy as np
import pytest
import tensorflow as tf

from tfdeepfake.models.heads import EmbeddingHead, pairwise_distances, supervised_contrastive_loss


def unit(rng, n, dim=8):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference_triplets(x, labels, margin, mining):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    losses = []
    for a in range(len(x)):
        positives = [p for p in range(len(x)) if p != a and labels[p] == labels[a]]
        negatives = [q for q in range(len(x)) if labels[q] != labels[a]]
        if not positives or not negatives:
            continue
        if mining == "batch_hard":
            losses.append(max(max(d[a, positives]) - min(d[a, negatives]) + margin, 0.0))
            continue
        for p in positives:
            semi = [d[a, q] for q in negatives if d[a, q] > d[a, p]]
            chosen = min(semi) if semi else max(d[a, negatives])
            losses.append(max(d[a, p] - chosen + margin, 0.0))
    return np.mean(losses)


def test_supervised_contrastive_matches_numpy():
    rng = np.random.default_rng(1)
    x, labels, t = unit(rng, 10), rng.integers(0, 2, 10), 0.2
    sims = x @ x.T / t
    total, anchors = 0.0, 0
    for i in range(10):
        others = [j for j in range(10) if j != i]
        denominator = np.log(np.sum(np.exp(sims[i, others])))
        positives = [j for j in others if labels[j] == labels[i]]
        if positives:
            total += -np.mean([sims[i, j] - denominator for j in positives])
            anchors += 1
    got = float(supervised_contrastive_loss(tf.constant(x), tf.constant(labels), t))
    assert got == pytest.approx(total / anchors, rel=1e-5)


def test_embedding_head_learns_to_separate_with_supervised_contrastive():
    rng = np.random.default_rng(2)
    features = np.concatenate([rng.normal(0.5, 1.0, (32, 16)), rng.normal(-0.5, 1.0, (32, 16))]).astype(np.float32)
    labels = np.repeat([1, 0], 32)
    head = EmbeddingHead(8)
    optimizer = tf.keras.optimizers.Adam(0.05)
    losses = []
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = supervised_contrastive_loss(head(features), labels, 0.1)
        optimizer.apply_gradients(zip(tape.gradient(loss, head.trainable_variables), head.trainable_variables))
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    norms = np.linalg.norm(head(features).numpy(), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_pairwise_distances_match_numpy_and_are_zero_on_the_diagonal():
    x = unit(np.random.default_rng(4), 7)
    x[3] = x[1]  # a repeated embedding: distance exactly 0, gradient finite
    expected = np.linalg.norm(x[:, None] - x[None], axis=-1)
    embeddings = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(embeddings)
        got = pairwise_distances(embeddings)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)
    assert got.numpy()[1, 3] == 0.0 and np.all(np.isfinite(tape.gradient(got, embeddings).numpy()))
