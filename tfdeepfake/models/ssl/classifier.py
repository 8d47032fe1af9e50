"""Anti-spoofing classifiers on self-supervised backbones (our WavLM port, or transformers' TF Wav2Vec2).

Head: mean pooling over time of the last hidden state or of a learned softmax-weighted sum of all layers, then
one logit (higher = bona fide). Fine-tuning in two stages: ``train_layers=0`` freezes the backbone (stage 1,
head only); :func:`unfreeze_top` opens the top N transformer layers (and the final layer norm of pre-LN
models) for stage 2, at a lower learning rate. The classifiers save and reload whole (.keras); the trainable flags
inside the backbone are not part of a Keras config, so call :func:`unfreeze_top` again to resume stage 2.
"""
from __future__ import annotations

import tensorflow as tf

from ..common import logit_head
from .checkpoints import load_wav2vec2, load_wavlm
from .wavlm import WavLMConfig, WavLMModel, register


@register
class LayerWeighting(tf.keras.layers.Layer):
    """Softmax-weighted sum of a list of (batch, time, dim) hidden states, weights learned (one per state, so no
    constructor arguments)."""

    def build(self, input_shape):
        self.layer_logits = self.add_weight("layer_logits", [len(input_shape)], initializer="zeros")

    def call(self, states):
        return tf.einsum("l,lbtd->btd", tf.nn.softmax(self.layer_logits), tf.stack(states))


@register
class Wav2Vec2Backbone(tf.keras.layers.Layer):
    """transformers' TFWav2Vec2Model behind the same dict interface as :class:`WavLMModel`.

    Built from a ``checkpoint`` folder (or hub name), or from ``config``, transformers' Wav2Vec2Config as a dict,
    with random weights: the Keras config holds that dict, so a saved model rebuilds without the checkpoint and
    takes its weights from the .keras file.
    """

    def __init__(self, checkpoint: str | None = None, config: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if checkpoint:
            self.model = load_wav2vec2(checkpoint)
        else:
            import transformers

            self.model = transformers.TFWav2Vec2Model(transformers.Wav2Vec2Config.from_dict(config or {}))
        self.encoder_layers = self.model.wav2vec2.encoder.layer
        self.encoder_norm = self.model.wav2vec2.encoder.layer_norm
        self.stable = bool(self.model.config.do_stable_layer_norm)

    def call(self, waveform):
        result = self.model(waveform, output_hidden_states=True)
        return {"last_hidden_state": result.last_hidden_state, "hidden_states": list(result.hidden_states)}

    def get_config(self):
        return {**super().get_config(), "config": self.model.config.to_dict()}


def backbone_of(model: tf.keras.Model):
    """The SSL backbone layer inside a classifier built here."""
    return model.get_layer("backbone")


def unfreeze_top(model: tf.keras.Model, layers: int) -> None:
    """Backbone frozen except its top ``layers`` transformer layers (and a pre-LN model's final layer norm)."""
    backbone = backbone_of(model)
    backbone.trainable = layers > 0
    if layers <= 0:
        return
    inner = backbone.model if isinstance(backbone, Wav2Vec2Backbone) else backbone
    stable = backbone.stable if isinstance(backbone, Wav2Vec2Backbone) else backbone.config.do_stable_layer_norm
    for layer in inner.submodules:
        if isinstance(layer, tf.keras.layers.Layer) and layer is not inner:
            layer.trainable = False
    encoder_layers = list(backbone.encoder_layers)
    for layer in encoder_layers[len(encoder_layers) - layers:]:
        layer.trainable = True
        for sub in layer.submodules:
            sub.trainable = True
    backbone.encoder_norm.trainable = stable


def build_ssl_classifier(feature_config, input_samples: int, features_input: bool = False, backbone: str = "wavlm",
                         checkpoint: str | None = None, config: dict | None = None, weighted_layers: bool = True,
                         train_layers: int = 0, dropout: float = 0.1, name: str = "ssl_classifier"):
    """``checkpoint``: a local Hugging Face folder (or hub name); ``config``: WavLM config fields for a randomly
    initialised backbone (tests, or pre-training from scratch). ``feature_config`` is unused: SSL models take
    the waveform."""
    if features_input:
        raise ValueError("self-supervised backbones take waveforms: set features.where=device")
    if backbone == "wavlm":
        encoder = load_wavlm(checkpoint, name="backbone") if checkpoint else \
            WavLMModel(WavLMConfig.from_dict(config or {}), name="backbone")
    elif backbone == "wav2vec2":
        if not checkpoint:
            raise ValueError("model.params.checkpoint: a Wav2Vec2 checkpoint folder (or hub name) is required")
        encoder = Wav2Vec2Backbone(checkpoint, name="backbone")
    else:
        raise ValueError(f"model.params.backbone must be 'wavlm' or 'wav2vec2', got {backbone!r}")
    inputs = tf.keras.Input((input_samples,), name="waveform")
    outputs = encoder(inputs)
    hidden = LayerWeighting(name="layer_weighting")(outputs["hidden_states"]) if weighted_layers \
        else outputs["last_hidden_state"]
    pooled = tf.keras.layers.GlobalAveragePooling1D(name="mean_pool")(hidden)
    model = tf.keras.Model(inputs, logit_head(pooled, dropout), name=name)
    unfreeze_top(model, train_layers)
    return model
