"""Metric-learning losses against brute-force numpy references; a head trained with them learns."""
import numpy as np
import pytest
import tensorflow as tf

from tfdeepfake.models.heads import (EmbeddingHead, mined_triplet_loss, pairwise_distances,
                                     supervised_contrastive_loss, triplet_loss)


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


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
def test_mined_triplet_loss_matches_brute_force(mining):
    rng = np.random.default_rng(0)
    x, labels = unit(rng, 12), rng.integers(0, 3, 12)
    got = float(mined_triplet_loss(tf.constant(x), tf.constant(labels), 0.3, mining))
    assert got == pytest.approx(reference_triplets(x, labels, 0.3, mining), rel=1e-5, abs=1e-6)


def test_triplet_loss_is_zero_beyond_the_margin_and_positive_inside():
    a = tf.constant([[1.0, 0.0]])
    assert float(triplet_loss(a, a, tf.constant([[-1.0, 0.0]]), margin=0.5)) == 0.0
    assert float(triplet_loss(a, tf.constant([[0.0, 1.0]]), tf.constant([[0.0, 1.0]]), margin=0.5)) == \
        pytest.approx(0.5)
    np.testing.assert_allclose(pairwise_distances(tf.constant([[0.0, 0.0], [3.0, 4.0]])).numpy(),
                               [[0, 5], [5, 0]], atol=1e-6)


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


def test_embedding_head_learns_to_separate_with_triplets():
    rng = np.random.default_rng(2)
    features = np.concatenate([rng.normal(0.5, 1.0, (32, 16)), rng.normal(-0.5, 1.0, (32, 16))]).astype(np.float32)
    labels = np.repeat([1, 0], 32)
    head = EmbeddingHead(8)
    optimizer = tf.keras.optimizers.Adam(0.05)
    losses = []
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = mined_triplet_loss(head(features), labels, 0.3, "batch_hard")
        optimizer.apply_gradients(zip(tape.gradient(loss, head.trainable_variables), head.trainable_variables))
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    norms = np.linalg.norm(head(features).numpy(), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_am_softmax_matches_the_published_formula():
    from tfdeepfake.models.heads import am_softmax_loss

    rng = np.random.default_rng(3)
    x, w, labels = rng.standard_normal((6, 4)), rng.standard_normal((4, 3)), rng.integers(0, 3, 6)
    cosine = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=0, keepdims=True))
    logits = 30.0 * (cosine - 0.4 * np.eye(3)[labels])
    expected = np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(6), labels])
    got = float(am_softmax_loss(tf.constant(x, tf.float32), tf.constant(labels), tf.constant(w, tf.float32)))
    assert got == pytest.approx(expected, rel=1e-4)
