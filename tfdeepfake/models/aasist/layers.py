"""Layers of the raw-waveform graph-attention countermeasures (AASIST, Jung et al. 2022; RawGAT-ST, Tak et al.
2021), written for tf-keras from the published descriptions and checked against the official PyTorch outputs.

Layout: the encoder works on (batch, time, frequency, channels); a graph is (batch, nodes, features). Every node
count is static (known when the layer is built), so graph pooling is a top-k of fixed size: XLA, TPU and TFLite
see static shapes. Every layer is registered for whole-model saving.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

register = tf.keras.utils.register_keras_serializable(package="tfdeepfake.aasist")
BN = dict(epsilon=1e-5, momentum=0.9)  # PyTorch's BatchNorm defaults (eps 1e-5, momentum 0.1)
SELU_SCALE, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772


def selu(x):
    """SELU from ReLU and ELU: equal to ``tf.nn.selu`` to float rounding, but the TFLite converter keeps both as
    single builtin ops that XNNPACK runs, where ``tf.nn.selu`` becomes six element-wise ops (GREATER, SELECT...)
    over the encoder's largest tensors."""
    return SELU_SCALE * tf.nn.relu(x) + (SELU_SCALE * SELU_ALPHA) * tf.nn.elu(tf.minimum(x, 0.0))


def sinc_bandpass_filters(filters: int, kernel_size: int, sample_rate: int) -> np.ndarray:
    """(kernel, filters) float32: Hamming-windowed ideal band-pass filters with band edges equally spaced on
    the mel scale from 0 Hz to Nyquist (the fixed SincNet variant of RawNet2 / AASIST). An even kernel size is
    made odd so every filter is symmetric. The taps and the sinc argument are float32, the band gains float64,
    as in the official code: the filters equal its filters bit for bit."""
    kernel_size += 1 - kernel_size % 2
    nyquist_bins = np.linspace(0, 1, 257) * (sample_rate // 2)  # the 512-point FFT grid of the original
    mel = 2595 * np.log10(1 + nyquist_bins / 700)
    edges = 700 * (10 ** (np.linspace(mel.min(), mel.max(), filters + 1) / 2595) - 1)
    taps = np.arange(-(kernel_size - 1) / 2, (kernel_size - 1) / 2 + 1).astype(np.float32)

    def lowpass(cutoff):
        return (2 * cutoff / sample_rate) * np.sinc(np.float32(2 * cutoff) * taps / np.float32(sample_rate))

    window = np.hamming(kernel_size).astype(np.float32)
    bank = [window * (lowpass(high) - lowpass(low)).astype(np.float32) for low, high in zip(edges[:-1], edges[1:])]
    return np.stack(bank, axis=1)


def polyphase_kernel(bank: np.ndarray, phases: int) -> np.ndarray:
    """(1, taps, phases, phases * filters): the 1-D filterbank ``bank`` (kernel, filters) rewritten for a waveform
    read as (blocks, phases): output sample ``phases * q + r`` of filter ``f`` is channel ``r * filters + f`` of
    block ``q``, the sum over ``j, p`` of ``kernel[j, p, r, f] * wave[phases * (q + j) + p]``, which is
    ``bank[phases * j + p - r, f]`` where that tap exists and 0 elsewhere. Same products, same order as the plain
    convolution; the added terms are exact zeros."""
    size, filters = bank.shape
    taps = -(-(size + phases - 1) // phases)
    kernel = np.zeros((taps, phases, phases, filters), np.float32)
    for r in range(phases):
        for p in range(phases):
            for j in range(taps):
                k = phases * j + p - r
                if 0 <= k < size:
                    kernel[j, p, r] = bank[k]
    return kernel.reshape(1, taps, phases, phases * filters)


@register
class SincFrontEnd(tf.keras.layers.Layer):
    """Waveform (batch, samples) → |fixed sinc band-pass filterbank| max-pooled 3 × 3 over time and filters, as a
    one-channel image (batch, frames, filters // 3, 1).

    ``mask_width`` > 0 enables the frequency-mask augmentation of the original recipes in training only: a run of
    ``int(U(0, mask_width))`` adjacent filters is zeroed, drawn per batch with the layer's ``seed``.

    The convolution runs in polyphase form: the waveform read as blocks of ``PHASES`` samples, one 2-D convolution
    with ``PHASES`` input channels gives ``PHASES`` output samples per block (:func:`polyphase_kernel`). A plain
    1-input-channel, 129-tap convolution is a poor GEMM (XNNPACK keeps an indirection entry per tap and output):
    the front end took 31 ms in TFLite and 23 ms in TensorFlow on one core for 64,600 samples, now 17 and 18 ms
    (results/tflite_profile.md). The filters are ordered pool group by pool group (filters 0, 3, 6 …,
    then 1, 4, 7 …), so pooling across filters is the maximum of ``pool`` contiguous channel slices, and the pool
    over time a ``MAX_POOL_2D`` over all of them: ops XNNPACK runs, no 5-D reduce.
    """

    PHASES = 10

    def __init__(self, filters: int = 70, kernel_size: int = 128, sample_rate: int = 16000, pool: int = 3,
                 mask_width: int = 0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.sample_rate, self.pool = filters, kernel_size, sample_rate, pool
        self.mask_width, self.seed = mask_width, seed
        bank = sinc_bandpass_filters(filters, kernel_size, sample_rate)
        self.bank = tf.constant(bank)
        bands = filters // pool
        # the filters kept by the pooling, pool group by pool group
        self.order = np.array([band * pool + group for group in range(pool) for band in range(bands)])
        self.kernel = tf.constant(polyphase_kernel(bank[:, self.order], self.PHASES))

    def _masked_kernel(self, training):
        if not self.mask_width or not training:
            return self.kernel
        width = tf.cast(tf.random.uniform([], 0, self.mask_width, seed=self.seed), tf.int32)
        start = tf.random.uniform([], 0, self.filters - width + 1, dtype=tf.int32, seed=self.seed)
        channel = tf.constant(self.order, tf.int32)
        keep = tf.cast((channel < start) | (channel >= start + width), self.kernel.dtype)
        return self.kernel * tf.tile(keep, [self.PHASES])  # the kernel's channels are (phase, filter)

    def call(self, waveform, training=None):
        kernel = tf.cast(self._masked_kernel(training), waveform.dtype)
        samples, size, phases, pool = waveform.shape[1], self.bank.shape[0], self.PHASES, self.pool
        if samples is None or samples < size + pool - 1:
            raise ValueError(f"{self.name}: needs a static window of at least {size + pool - 1} samples, got "
                             f"{samples}")
        frames, bands = (samples - size + 1) // pool, self.filters // pool
        outputs = frames * pool  # the convolution outputs the pooling reads
        blocks = -(-outputs // phases)
        read = (blocks + kernel.shape[1] - 1) * phases
        wave = waveform[:, :read] if read < samples else \
            tf.pad(waveform, [[0, 0], [0, read - samples]]) if read > samples else waveform
        response = tf.nn.conv2d(tf.reshape(wave, [-1, 1, read // phases, phases]), kernel, 1, "VALID")
        response = tf.reshape(response, [-1, 1, blocks * phases, bands * pool])
        if blocks * phases != outputs:
            response = response[:, :, :outputs]
        pooled = tf.nn.max_pool2d(tf.abs(response), (1, pool), (1, pool), "VALID")  # over time
        across = pooled[..., :bands]
        for group in range(1, pool):  # over filters: band b's filters are channels b, b + bands, ...
            across = tf.maximum(across, pooled[..., group * bands:(group + 1) * bands])
        return tf.reshape(across, [-1, frames, bands, 1])

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "sample_rate": self.sample_rate, "pool": self.pool, "mask_width": self.mask_width,
                "seed": self.seed}


@register
class ResidualBlock(tf.keras.layers.Layer):
    """conv (3 time × 2 freq, zero-padded 1) → BN → SELU → conv (3 × 2, time-padded 1), plus the input
    (through a 3 × 1 conv when ``downsample``), then max-pooling by 3 over time.

    As in the official code, the first conv reads the block's input directly; the channel counts of the input
    and output may differ without ``downsample`` only when the input has one channel (it is broadcast).
    """

    def __init__(self, filters: int, downsample: bool, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.downsample = filters, downsample
        self.conv1 = tf.keras.layers.Conv2D(filters, (3, 2), name="conv1")
        self.bn2 = tf.keras.layers.BatchNormalization(name="bn2", **BN)
        self.conv2 = tf.keras.layers.Conv2D(filters, (3, 2), name="conv2")
        self.conv_downsample = tf.keras.layers.Conv2D(filters, (3, 1), name="conv_downsample") if downsample \
            else None

    def residual(self, x, training=None):
        """The block before its pooling: conv-BN-SELU-conv plus the (projected) input."""
        out = self.conv1(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]))
        out = selu(self.bn2(out, training=training))
        out = self.conv2(tf.pad(out, [[0, 0], [1, 1], [0, 0], [0, 0]]))
        identity = self.conv_downsample(tf.pad(x, [[0, 0], [1, 1], [0, 0], [0, 0]])) if self.downsample else x
        return out + identity

    def call(self, x, training=None):
        return tf.nn.max_pool2d(self.residual(x, training), (3, 1), (3, 1), "VALID")

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "downsample": self.downsample}


@register
class MaxAbs(tf.keras.layers.Layer):
    """max |x| over the encoder's time (``axis=1``) or frequency (``axis=2``) axis: one graph node per bin left."""

    def __init__(self, axis: int, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x):
        # keepdims + squeeze computes the same; a keepdims=False reduce after a convolution trips tf2onnx's
        # transpose optimizer (it mislabels the reduced axis and the next Dense's reshape gets a wrong size)
        return tf.squeeze(tf.reduce_max(tf.abs(x), axis=self.axis, keepdims=True), axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register
class NodeEmbedding(tf.keras.layers.Layer):
    """A learned per-node vector added to the nodes (AASIST's spectral position code)."""

    def build(self, input_shape):
        self.embedding = self.add_weight("embedding", (1, input_shape[1], input_shape[2]),
                                         initializer="random_normal")

    def call(self, nodes):
        return nodes + tf.cast(self.embedding, nodes.dtype)


@register
class MasterNode(tf.keras.layers.Layer):
    """A learned (1, 1, dim) node repeated over the batch of its input (AASIST's stack master node)."""

    def __init__(self, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim

    def build(self, input_shape):
        self.node = self.add_weight("node", (1, 1, self.dim), initializer="random_normal")

    def call(self, reference):
        return tf.tile(tf.cast(self.node, reference.dtype), [tf.shape(reference)[0], 1, 1])

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


def _pairwise(nodes):
    """(batch, n, n, dim): the element-wise product of every pair of nodes. ``expand_dims``, not ``None`` indexing:
    TFLite's builtins lack a StridedSlice that adds axes, which the converter cannot rewrite when two dimensions are
    dynamic (an SSL front-end's frames)."""
    return tf.expand_dims(nodes, 2) * tf.expand_dims(nodes, 1)


@register
class GraphAttention(tf.keras.layers.Layer):
    """Graph attention over a fully connected graph: attention from tanh(W (h_i ⊙ h_j)) · w / temperature,
    softmax over neighbours; output W_a (A h) + W_r h, then BatchNorm and SELU. Dropout 0.2 on the input."""

    def __init__(self, units: int, temperature: float = 1.0, dropout: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.units, self.temperature, self.dropout_rate = units, temperature, dropout
        self.input_drop = tf.keras.layers.Dropout(dropout)
        self.att_proj = tf.keras.layers.Dense(units, name="att_proj")
        self.proj_with_att = tf.keras.layers.Dense(units, name="proj_with_att")
        self.proj_without_att = tf.keras.layers.Dense(units, name="proj_without_att")
        self.bn = tf.keras.layers.BatchNormalization(name="bn", **BN)

    def build(self, input_shape):
        self.att_weight = self.add_weight("att_weight", (self.units, 1),
                                          initializer="glorot_normal")
        super().build(input_shape)

    def call(self, nodes, training=None):
        nodes = self.input_drop(nodes, training=training)
        scores = tf.tanh(self.att_proj(_pairwise(nodes))) @ tf.cast(self.att_weight, nodes.dtype)
        attention = tf.nn.softmax(scores[..., 0] / self.temperature, axis=-1)
        out = self.proj_with_att(attention @ nodes) + self.proj_without_att(nodes)
        return selu(self.bn(out, training=training))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "temperature": self.temperature,
                "dropout": self.dropout_rate}


@register
class HeteroGraphAttention(tf.keras.layers.Layer):
    """AASIST's heterogeneous stacking graph attention: two node types joined in one graph (type-specific
    attention vectors within each type, a shared one across types) plus a master node that attends to all.

    call([nodes_1, nodes_2, master]) → [nodes_1', nodes_2', master'].
    """

    def __init__(self, units: int, temperature: float = 1.0, dropout: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.units, self.temperature, self.dropout_rate = units, temperature, dropout
        self.input_drop = tf.keras.layers.Dropout(dropout)
        self.att_proj = tf.keras.layers.Dense(units, name="att_proj")
        self.att_projM = tf.keras.layers.Dense(units, name="att_projM")
        self.proj_with_att = tf.keras.layers.Dense(units, name="proj_with_att")
        self.proj_without_att = tf.keras.layers.Dense(units, name="proj_without_att")
        self.proj_with_attM = tf.keras.layers.Dense(units, name="proj_with_attM")
        self.proj_without_attM = tf.keras.layers.Dense(units, name="proj_without_attM")
        self.bn = tf.keras.layers.BatchNormalization(name="bn", **BN)

    def build(self, input_shape):
        shape_1, shape_2, _ = input_shape
        self.sizes = (int(shape_1[1]), int(shape_2[1]))
        dim = int(shape_1[-1])
        self.proj_type1 = tf.keras.layers.Dense(dim, name="proj_type1")
        self.proj_type2 = tf.keras.layers.Dense(dim, name="proj_type2")
        # attention vectors: within type 1, within type 2, across types, and the master node's
        self.att_weights = self.add_weight("att_weights", (self.units, 3), initializer="glorot_normal")
        self.att_weightM = self.add_weight("att_weightM", (self.units, 1), initializer="glorot_normal")
        n1, n2 = self.sizes
        block = np.full((n1 + n2, n1 + n2), 2)
        block[:n1, :n1], block[n1:, n1:] = 0, 1
        self.block_selector = tf.constant(np.eye(3, dtype=np.float32)[block])  # (n, n, 3) one-hot
        super().build(input_shape)

    def call(self, inputs, training=None):
        nodes_1, nodes_2, master = inputs
        nodes = tf.concat([self.proj_type1(nodes_1), self.proj_type2(nodes_2)], axis=1)
        nodes = self.input_drop(nodes, training=training)
        dtype = nodes.dtype

        gate = tf.tanh(self.att_projM(nodes * master)) @ tf.cast(self.att_weightM, dtype)  # (b, n, 1)
        master_attention = tf.nn.softmax(gate / self.temperature, axis=1)
        master = self.proj_with_attM(tf.reduce_sum(master_attention * nodes, axis=1, keepdims=True)) \
            + self.proj_without_attM(master)

        scores = tf.tanh(self.att_proj(_pairwise(nodes))) @ tf.cast(self.att_weights, dtype)  # (b, n, n, 3)
        scores = tf.reduce_sum(scores * tf.cast(self.block_selector, dtype), axis=-1)
        attention = tf.nn.softmax(scores / self.temperature, axis=-1)
        out = self.proj_with_att(attention @ nodes) + self.proj_without_att(nodes)
        out = selu(self.bn(out, training=training))
        n1 = self.sizes[0]
        return [out[:, :n1], out[:, n1:], master]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "temperature": self.temperature,
                "dropout": self.dropout_rate}


@register
class GraphPool(tf.keras.layers.Layer):
    """Keep the ``max(int(n * ratio), min_nodes)`` nodes with the highest sigmoid(w · h) score, each scaled by its
    score, highest first. The node count is static, so the top-k has a fixed size."""

    def __init__(self, ratio: float, min_nodes: int = 1, dropout: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.ratio, self.min_nodes, self.dropout_rate = ratio, min_nodes, dropout
        self.drop = tf.keras.layers.Dropout(dropout)
        self.proj = tf.keras.layers.Dense(1, name="proj")

    def kept(self, nodes: int) -> int:
        return max(int(nodes * self.ratio), self.min_nodes)

    def call(self, nodes, training=None):
        scores = tf.sigmoid(self.proj(self.drop(nodes, training=training)))  # (b, n, 1)
        _, index = tf.math.top_k(scores[..., 0], self.kept(nodes.shape[1]))
        return tf.gather(nodes * scores, index, batch_dims=1)

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio, "min_nodes": self.min_nodes,
                "dropout": self.dropout_rate}


@register
class NodeProjection(tf.keras.layers.Layer):
    """A linear map across the node axis: (batch, n, dim) → (batch, units, dim) (RawGAT-ST's graph fusion)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[1], self.units))
        self.bias = self.add_weight("bias", (self.units,), initializer="zeros")

    def call(self, nodes):
        dtype = nodes.dtype
        return tf.einsum("bnd,nm->bmd", nodes, tf.cast(self.kernel, dtype)) + tf.cast(self.bias, dtype)[:, None]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@register
class GraphReadout(tf.keras.layers.Layer):
    """AASIST's readout: [max |T|, mean T, max |S|, mean S, master] over nodes, concatenated."""

    def call(self, inputs):
        temporal, spectral, master = inputs
        return tf.concat([tf.reduce_max(tf.abs(temporal), axis=1), tf.reduce_mean(temporal, axis=1),
                          tf.reduce_max(tf.abs(spectral), axis=1), tf.reduce_mean(spectral, axis=1),
                          master[:, 0]], axis=-1)
