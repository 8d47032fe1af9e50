"""WavLM, wav2vec 2.0 and HuBERT in tf-keras, numerically faithful to transformers' PyTorch ``WavLMModel`` /
``Wav2Vec2Model`` / ``HubertModel`` / ``WavLMForXVector``.

The three families share every layer here; ``model_type`` in the config only switches WavLM's gated relative
position bias on (WavLM) or off (wav2vec 2.0, HuBERT), and ``feat_proj_layer_norm`` drops the feature-projection
norm where a HuBERT variant has none. transformers ships no TensorFlow WavLM. This port follows ``modeling_wavlm.py`` layer by layer: the
convolutional feature encoder (group-norm or layer-norm variant), feature projection, grouped positional
convolution (weight norm folded into the kernel on loading), and a transformer whose first layer owns the
bucketed relative-position embedding that every layer gates with its own GRU-style gate — in the post-LN
("base") or stable pre-LN ("large") arrangement. Weights come from Hugging Face checkpoints (see
:mod:`tfdeepfake.models.ssl.checkpoints`); parity with PyTorch is tested against committed fixtures. Every layer
is registered and carries its WavLMConfig in its Keras config, so models holding them save and reload whole.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import tensorflow as tf

register = tf.keras.utils.register_keras_serializable(package="tfdeepfake.ssl")
MODEL_TYPES = ("wavlm", "wav2vec2", "hubert")


@dataclass(frozen=True)
class WavLMConfig:
    """The fields of transformers' ``WavLMConfig`` / ``Wav2Vec2Config`` / ``HubertConfig`` that inference needs
    (same names, same defaults); ``model_type`` as in their config.json."""

    model_type: str = "wavlm"
    feat_proj_layer_norm: bool = True
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    feat_extract_norm: str = "group"
    feat_extract_activation: str = "gelu"
    conv_dim: tuple = (512, 512, 512, 512, 512, 512, 512)
    conv_stride: tuple = (5, 2, 2, 2, 2, 2, 2)
    conv_kernel: tuple = (10, 3, 3, 3, 3, 2, 2)
    conv_bias: bool = False
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16
    num_buckets: int = 320
    max_bucket_distance: int = 800
    do_stable_layer_norm: bool = False
    tdnn_dim: tuple = (512, 512, 512, 512, 1500)
    tdnn_kernel: tuple = (5, 3, 3, 1, 1)
    tdnn_dilation: tuple = (1, 2, 3, 1, 1)
    xvector_output_dim: int = 512
    use_weighted_layer_sum: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, values: dict) -> "WavLMConfig":
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}
        config = cls(**known, extra={k: v for k, v in values.items() if k not in names})
        if config.model_type not in MODEL_TYPES:
            raise ValueError(f"model_type {config.model_type!r} is not one of {MODEL_TYPES}")
        if values.get("conv_pos_batch_norm"):
            raise ValueError("conv_pos_batch_norm=True (a HuBERT variant) is not supported")
        return config

    def to_dict(self) -> dict:
        """The inverse of :meth:`from_dict`: the known fields and the extra ones in one dict."""
        return {**self.extra, **{f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}}

    @property
    def relative_position_bias(self) -> bool:
        """Whether the attention adds WavLM's gated relative position bias."""
        return self.model_type == "wavlm"

    def frames(self, samples: int) -> int:
        """Feature-encoder output length for ``samples`` input samples."""
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            samples = (samples - kernel) // stride + 1
        return samples


def _exact_gelu(x):
    """GELU with the exact erf; traced as x/2 (1 + erf(x/sqrt 2)) inside ``features.portable_graph``, since
    TensorFlow's own form uses Erfc, which tf2onnx cannot convert (the two agree to float rounding)."""
    from ...features import portable

    if portable():
        return 0.5 * x * (1.0 + tf.math.erf(x * (1.0 / math.sqrt(2.0))))
    return tf.nn.gelu(x, approximate=False)


def _activation(name: str):
    if name == "gelu":
        return _exact_gelu
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: tf.nn.gelu(x, approximate=True)
    if name in ("relu", "swish", "silu"):
        return {"relu": tf.nn.relu, "swish": tf.nn.silu, "silu": tf.nn.silu}[name]
    raise ValueError(f"unsupported activation {name!r}")


class FromWavLMConfig:
    """Mixin for layers built from a WavLMConfig (``self.config``): it travels in their Keras config as a dict.

    ``Layer.get_config`` is called directly because ``tf.keras.Model.get_config`` of a subclass drops name,
    trainable and dtype."""

    def get_config(self):
        return {**tf.keras.layers.Layer.get_config(self), "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(WavLMConfig.from_dict(config.pop("config")), **config)


@register
class ChannelNorm(tf.keras.layers.Layer):
    """PyTorch GroupNorm with one group per channel on (batch, time, channels): normalise each channel over time."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight("gamma", [input_shape[-1]], initializer="ones")
        self.beta = self.add_weight("beta", [input_shape[-1]], initializer="zeros")

    def call(self, x):
        mean, variance = tf.nn.moments(x, axes=[1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + self.epsilon) * self.gamma + self.beta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@register
class FeatureEncoder(FromWavLMConfig, tf.keras.layers.Layer):
    """Strided 1-D convolutions from waveform (batch, samples) to frames (batch, frames, conv_dim[-1])."""

    def __init__(self, config: WavLMConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.activation = _activation(config.feat_extract_activation)
        self.convs, self.norms = [], []
        for i, (dim, kernel, stride) in enumerate(zip(config.conv_dim, config.conv_kernel, config.conv_stride)):
            self.convs.append(tf.keras.layers.Conv1D(dim, kernel, stride, use_bias=config.conv_bias, name=f"conv{i}"))
            if config.feat_extract_norm == "layer":
                self.norms.append(tf.keras.layers.LayerNormalization(epsilon=1e-5, name=f"norm{i}"))
            elif i == 0:
                self.norms.append(ChannelNorm(name="norm0"))
            else:
                self.norms.append(None)

    def call(self, waveform):
        x = waveform[..., None]
        for conv, norm in zip(self.convs, self.norms):
            x = conv(x)
            if norm is not None:
                x = norm(x)
            x = self.activation(x)
        return x


@register
class PositionalConv(FromWavLMConfig, tf.keras.layers.Layer):
    """Grouped convolution over time (kernel K, padding K//2, one frame dropped when K is even), then GELU."""

    def __init__(self, config: WavLMConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.kernel_size = config.num_conv_pos_embeddings
        self.conv = tf.keras.layers.Conv1D(config.hidden_size, self.kernel_size,
                                           groups=config.num_conv_pos_embedding_groups, name="conv")
        self.activation = _activation(config.feat_extract_activation)

    def call(self, x):
        from ...features import portable

        pad = self.kernel_size // 2
        x = tf.pad(x, [[0, 0], [pad, pad], [0, 0]])
        y = self._per_group(x) if portable() else self.conv(x)
        if self.kernel_size % 2 == 0:
            y = y[:, :-1]
        return self.activation(y)

    def _per_group(self, x):
        """The same grouped convolution as one plain conv per group (Keras runs groups > 1 as an XLA function,
        which tf2onnx cannot convert)."""
        groups = self.config.num_conv_pos_embedding_groups
        kernels = tf.split(self.conv.kernel, groups, axis=-1)  # (K, C/groups, C/groups) each
        parts = [tf.nn.conv1d(part, kernel, stride=1, padding="VALID")
                 for part, kernel in zip(tf.split(x, groups, axis=-1), kernels)]
        return tf.concat(parts, axis=-1) + self.conv.bias


def relative_position_buckets(length: int, num_buckets: int, max_distance: int) -> np.ndarray:
    """(length, length) bucket index of key position minus query position, as WavLM computes it."""
    relative = np.arange(length)[None, :] - np.arange(length)[:, None]
    half = num_buckets // 2
    buckets = (relative > 0).astype(np.int64) * half
    distance = np.abs(relative)
    max_exact = half // 2
    with np.errstate(divide="ignore"):
        large = max_exact + (np.log(distance.astype(np.float32) / max_exact) / math.log(max_distance / max_exact)
                             * (half - max_exact)).astype(np.float32)
    large = np.minimum(np.where(distance < max_exact, 0, large).astype(np.int64), half - 1)
    return buckets + np.where(distance < max_exact, distance, large)


@register
class WavLMAttention(FromWavLMConfig, tf.keras.layers.Layer):
    """Multi-head self-attention, plus WavLM's gated relative position bias when the config asks for it."""

    def __init__(self, config: WavLMConfig, has_relative_position_bias: bool, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.num_heads
        self.num_buckets, self.max_distance = config.num_buckets, config.max_bucket_distance
        dense = lambda name: tf.keras.layers.Dense(config.hidden_size, name=name)  # noqa: E731
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (dense(n) for n in ("q_proj", "k_proj", "v_proj",
                                                                                   "out_proj"))
        self.gated = config.relative_position_bias
        self.gru_rel_pos_linear = tf.keras.layers.Dense(8, name="gru_rel_pos_linear") if self.gated else None
        self.has_relative_position_bias = has_relative_position_bias and self.gated

    def build(self, input_shape):
        if not self.gated:
            return super().build(input_shape)
        self.gru_rel_pos_const = self.add_weight("gru_rel_pos_const", [1, self.num_heads, 1, 1], initializer="ones")
        if self.has_relative_position_bias:
            self.rel_attn_embed = self.add_weight("rel_attn_embed", [self.num_buckets, self.num_heads])
        super().build(input_shape)

    def position_bias(self, length: int):
        """(heads, length, length) bias from the bucketed relative positions (first layer only)."""
        buckets = relative_position_buckets(length, self.num_buckets, self.max_distance)
        return tf.transpose(tf.gather(self.rel_attn_embed, buckets), [2, 0, 1])

    def _split(self, x, batch, length):
        return tf.transpose(tf.reshape(x, [batch, length, self.num_heads, self.head_dim]), [0, 2, 1, 3])

    def call(self, hidden, position_bias=None, key_mask=None):
        batch, length = tf.shape(hidden)[0], tf.shape(hidden)[1]
        query = self._split(self.q_proj(hidden), batch, length) * (self.head_dim ** -0.5)
        key = self._split(self.k_proj(hidden), batch, length)
        value = self._split(self.v_proj(hidden), batch, length)
        scores = tf.matmul(query, key, transpose_b=True)
        if self.gated:
            scores, position_bias = self._add_gated_bias(scores, hidden, position_bias, batch, length)
        if key_mask is not None:
            scores += (1.0 - tf.cast(key_mask, scores.dtype))[:, None, None, :] * -1e9
        context = tf.matmul(tf.nn.softmax(scores, axis=-1), value)
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, length, self.num_heads * self.head_dim])
        return self.out_proj(context), position_bias

    def _add_gated_bias(self, scores, hidden, position_bias, batch, length):
        """WavLM: scores plus the first layer's relative position bias, gated from this layer's input."""
        if position_bias is None:
            position_bias = self.position_bias(hidden.shape[1])
        # gate from the layer input split into heads: (batch, heads, time, 2 sums of 4)
        heads = self._split(hidden, batch, length)
        projected = tf.reduce_sum(tf.reshape(self.gru_rel_pos_linear(heads), [batch, self.num_heads, length, 2, 4]),
                                  axis=-1)
        gate_a, gate_b = tf.unstack(tf.sigmoid(projected), axis=-1)
        gate = gate_a * (gate_b * self.gru_rel_pos_const[..., 0] - 1.0) + 2.0
        return scores + gate[..., None] * position_bias[None], position_bias

    def get_config(self):
        return {**super().get_config(), "has_relative_position_bias": self.has_relative_position_bias}


@register
class WavLMLayer(FromWavLMConfig, tf.keras.layers.Layer):
    """One transformer layer: post-LN (base) or pre-LN (stable, large)."""

    def __init__(self, config: WavLMConfig, index: int, **kwargs):
        super().__init__(**kwargs)
        self.config, self.index = config, index
        self.stable = config.do_stable_layer_norm
        self.attention = WavLMAttention(config, has_relative_position_bias=index == 0, name="attention")
        self.layer_norm = tf.keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layer_norm")
        self.final_layer_norm = tf.keras.layers.LayerNormalization(epsilon=config.layer_norm_eps,
                                                                   name="final_layer_norm")
        self.intermediate_dense = tf.keras.layers.Dense(config.intermediate_size, name="intermediate_dense")
        self.output_dense = tf.keras.layers.Dense(config.hidden_size, name="output_dense")
        self.activation = _activation(config.hidden_act)

    def feed_forward(self, x):
        return self.output_dense(self.activation(self.intermediate_dense(x)))

    def call(self, hidden, position_bias=None, key_mask=None):
        if self.stable:
            attended, position_bias = self.attention(self.layer_norm(hidden), position_bias, key_mask)
            hidden = hidden + attended
            return hidden + self.feed_forward(self.final_layer_norm(hidden)), position_bias
        attended, position_bias = self.attention(hidden, position_bias, key_mask)
        hidden = self.layer_norm(hidden + attended)
        return self.final_layer_norm(hidden + self.feed_forward(hidden)), position_bias

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@register
class WavLMModel(FromWavLMConfig, tf.keras.Model):
    """Waveforms (batch, samples) -> dict ``last_hidden_state`` and ``hidden_states`` (embeddings + each layer),
    like transformers' ``WavLMModel`` / ``Wav2Vec2Model`` / ``HubertModel(..., output_hidden_states=True)``
    (the family is the config's ``model_type``). ``attention_mask`` (batch, samples) of
    1/0 marks real samples in padded batches."""

    def __init__(self, config: WavLMConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.feature_extractor = FeatureEncoder(config, name="feature_extractor")
        self.projection_norm = tf.keras.layers.LayerNormalization(
            epsilon=config.layer_norm_eps, name="feature_projection_norm") if config.feat_proj_layer_norm else None
        self.projection = tf.keras.layers.Dense(config.hidden_size, name="feature_projection")
        self.pos_conv_embed = PositionalConv(config, name="pos_conv_embed")
        self.encoder_norm = tf.keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="encoder_norm")
        self.encoder_layers = [WavLMLayer(config, i, name=f"layer{i}") for i in range(config.num_hidden_layers)]

    def frame_mask(self, attention_mask):
        """Sample-level mask -> frame-level mask (a frame is real when it lies within the real samples)."""
        lengths = tf.reduce_sum(tf.cast(attention_mask, tf.int32), axis=-1)
        for kernel, stride in zip(self.config.conv_kernel, self.config.conv_stride):
            lengths = (lengths - kernel) // stride + 1
        return tf.sequence_mask(lengths, self.config.frames(attention_mask.shape[-1]), dtype=tf.float32)

    def call(self, waveform, attention_mask=None):
        features = self.feature_extractor(waveform)
        hidden = self.projection(self.projection_norm(features) if self.projection_norm else features)
        key_mask = None
        if attention_mask is not None:
            key_mask = self.frame_mask(attention_mask)
            hidden = hidden * key_mask[..., None]
        hidden = hidden + self.pos_conv_embed(hidden)
        if not self.config.do_stable_layer_norm:
            hidden = self.encoder_norm(hidden)
        states, position_bias = [], None
        for layer in self.encoder_layers:
            states.append(hidden)
            hidden, position_bias = layer(hidden, position_bias, key_mask)
        if self.config.do_stable_layer_norm:
            hidden = self.encoder_norm(hidden)
        states.append(hidden)
        return {"last_hidden_state": hidden, "hidden_states": states}


@register
class XVectorHead(FromWavLMConfig, tf.keras.layers.Layer):
    """transformers' ``*ForXVector`` head: projector, TDNN layers, mean+std pooling, embedding, classifier."""

    def __init__(self, config: WavLMConfig, num_labels: int, **kwargs):
        super().__init__(**kwargs)
        self.config, self.num_labels = config, num_labels
        self.projector = tf.keras.layers.Dense(config.tdnn_dim[0], name="projector")
        self.tdnn = [tf.keras.layers.Conv1D(dim, kernel, dilation_rate=dilation, activation="relu", name=f"tdnn{i}")
                     for i, (dim, kernel, dilation) in enumerate(zip(config.tdnn_dim, config.tdnn_kernel,
                                                                     config.tdnn_dilation))]
        self.feature_extractor = tf.keras.layers.Dense(config.xvector_output_dim, name="embedding")
        self.classifier = tf.keras.layers.Dense(num_labels if num_labels else config.xvector_output_dim,
                                                name="classifier")

    def build(self, input_shape):
        if self.config.use_weighted_layer_sum:
            layers = self.config.num_hidden_layers + 1
            self.layer_weights = self.add_weight("layer_weights", [layers],
                                                 initializer=tf.keras.initializers.Constant(1.0 / layers))
        super().build(input_shape)

    def call(self, outputs):
        if self.config.use_weighted_layer_sum:
            weights = tf.nn.softmax(self.layer_weights)
            hidden = tf.einsum("l,lbtd->btd", weights, tf.stack(outputs["hidden_states"]))
        else:
            hidden = outputs["last_hidden_state"]
        hidden = self.projector(hidden)
        for layer in self.tdnn:
            hidden = layer(hidden)
        mean, variance = tf.nn.moments(hidden, axes=[1])
        count = tf.cast(tf.shape(hidden)[1], hidden.dtype)
        std = tf.sqrt(variance * count / (count - 1.0))  # unbiased, as torch.std
        embeddings = self.feature_extractor(tf.concat([mean, std], axis=-1))
        return {"embeddings": embeddings, "logits": self.classifier(embeddings)}

    def get_config(self):
        return {**super().get_config(), "num_labels": self.num_labels}


@register
class WavLMForXVector(FromWavLMConfig, tf.keras.Model):
    """WavLM + x-vector head; ``embeddings`` are the speaker embeddings (cosine-score them)."""

    def __init__(self, config: WavLMConfig, num_labels: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.config, self.num_labels = config, num_labels
        self.wavlm = WavLMModel(config, name="wavlm")
        self.head = XVectorHead(config, num_labels, name="xvector")

    def call(self, waveform):
        return self.head(self.wavlm(waveform))

    def get_config(self):
        return {**super().get_config(), "num_labels": self.num_labels}
