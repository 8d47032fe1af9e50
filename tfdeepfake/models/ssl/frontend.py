"""The SSL front-end: any self-supervised backbone (WavLM, wav2vec 2.0, HuBERT) as waveform -> frame features.

``SSLFrontEnd`` turns (batch, samples) into (batch, frames, channels): one chosen hidden state (``layer``, an
index into embeddings + every transformer block, negative from the top) or, with ``layer=None``, a learned
softmax weighting of all of them. ``trainable_layers`` fine-tunes only the top N transformer blocks (and a
pre-LN model's final norm); 0 freezes the backbone, -1 fine-tunes all of it. The layer's Keras config holds the
backbone's architecture and these choices, so a model holding it saves and reloads whole (weights from the
.keras file). Back-ends are built on top of :func:`build_ssl_frontend`.
"""
from __future__ import annotations

import tensorflow as tf

from .checkpoints import fill_backbone, read_backbone_checkpoint
from .wavlm import WavLMConfig, WavLMModel, register


@register
class SSLFrontEnd(tf.keras.layers.Layer):
    """Waveforms (batch, samples) -> (batch, frames, channels) from a WavLM / wav2vec 2.0 / HuBERT backbone."""

    def __init__(self, backbone_config: dict, layer: int | None = None, trainable_layers: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.backbone_config, self.layer, self.trainable_layers = dict(backbone_config), layer, trainable_layers
        self.backbone = WavLMModel(WavLMConfig.from_dict(self.backbone_config), name="backbone")
        states = self.backbone.config.num_hidden_layers + 1
        if layer is not None and not -states <= layer < states:
            raise ValueError(f"layer {layer} is outside the backbone's {states} hidden states "
                             f"(embeddings + {states - 1} transformer blocks)")
        if not -1 <= trainable_layers < states:
            raise ValueError(f"trainable_layers must be -1 (all), 0 (frozen) or up to {states - 1}, "
                             f"got {trainable_layers}")
        self._set_trainable_blocks()

    @property
    def channels(self) -> int:
        """Feature size of each output frame."""
        return self.backbone.config.hidden_size

    def _set_trainable_blocks(self):
        """Freeze everything in the backbone but its top ``trainable_layers`` blocks (flags on the sublayers,
        the backbone itself stays trainable so the open blocks' weights are collected)."""
        if self.trainable_layers == -1:
            return
        for sub in self.backbone.submodules:
            if isinstance(sub, tf.keras.layers.Layer):
                sub.trainable = False
        blocks = self.backbone.encoder_layers
        for block in blocks[len(blocks) - self.trainable_layers:] if self.trainable_layers else []:
            block.trainable = True
            for sub in block.submodules:
                sub.trainable = True
        self.backbone.encoder_norm.trainable = self.trainable_layers > 0 and self.backbone.config.do_stable_layer_norm

    def build(self, input_shape):
        if self.layer is None:
            self.layer_logits = self.add_weight("layer_logits", [self.backbone.config.num_hidden_layers + 1],
                                                initializer="zeros")
        super().build(input_shape)

    def call(self, waveform, attention_mask=None):
        states = self.backbone(waveform, attention_mask=attention_mask)["hidden_states"]
        if self.layer is not None:
            return states[self.layer]
        return tf.einsum("l,lbtd->btd", tf.nn.softmax(self.layer_logits), tf.stack(states))

    def get_config(self):
        return {**super().get_config(), "backbone_config": self.backbone_config, "layer": self.layer,
                "trainable_layers": self.trainable_layers}


def build_ssl_frontend(checkpoint: str | None = None, config: dict | None = None, layer: int | None = None,
                       trainable_layers: int = 0, name: str = "ssl_frontend") -> SSLFrontEnd:
    """An :class:`SSLFrontEnd`, built, with a Hugging Face checkpoint's weights (``checkpoint``: folder or hub
    name, its config.json gives the architecture) or random weights of ``config`` (config.json fields, e.g. a
    preset; tests, training from scratch). Exactly one of the two."""
    if (checkpoint is None) == (config is None):
        raise ValueError("build_ssl_frontend needs exactly one of checkpoint (weights) or config (random weights)")
    state = None
    if checkpoint is not None:
        architecture, state = read_backbone_checkpoint(checkpoint)
        config = architecture.to_dict()
    frontend = SSLFrontEnd(config, layer=layer, trainable_layers=trainable_layers, name=name)
    frontend(tf.zeros([1, 16000]))
    if state is not None:
        fill_backbone(frontend.backbone, state)
    return frontend
