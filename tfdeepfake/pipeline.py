"""tf.data input for training and evaluation: parse -> crop -> wave augment -> (host features) -> batch.

Everything runs in core TensorFlow ops with stateless seeds, so a seed gives the same batches run after
run, shapes are static (``drop_remainder`` for training), and no Python runs per example.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import tensorflow as tf

from . import records
from .augment import spec, wave
from .config import AugmentConfig, FeatureConfig
from .features import make_frontend
from .input_rule import DEFAULT_SAMPLE_RATE, DEFAULT_WINDOW as DEFAULT_CROP, sliding_windows


@dataclass(frozen=True)
class InputConfig:
    """Where the examples come from and how they are cut and batched."""

    tfrecords: str
    splits: tuple[str, ...] = ("train",)
    folds: tuple[int, ...] | None = None
    crop_samples: int = DEFAULT_CROP
    batch_size: int = 32
    sample_rate: int = DEFAULT_SAMPLE_RATE
    balanced: bool = False  # draw bona fide and spoof 1:1 (infinite dataset: give fit steps_per_epoch)
    paired: bool = False  # inputs (batch, 2, ...): the clean crop and its augmented copy (triplet training)
    shuffle_buffer: int = 2048
    augment: AugmentConfig = field(default_factory=AugmentConfig)


def noise_bank(config: AugmentConfig, crop_samples: int, sample_rate: int, seed: int) -> tf.Tensor | None:
    """The pipeline's noise source, made once: seeded synthetic white/coloured noise or the recordings in
    ``noise_dir``, as rows of two crops that each clip cuts a random excerpt from."""
    if not config.noise_p:
        return None
    if config.noise_kind == "folder":
        return tf.constant(wave.noise_bank_from_folder(config.noise_dir, sample_rate, 2 * crop_samples))
    return wave.noise_bank(tf.constant([seed, 1]), config.noise_bank_rows, 2 * crop_samples, config.noise_kind)


def _augment_wave(audio, seed, config: AugmentConfig, sample_rate: int, bank):
    noise_seed, gain_seed, phone_seed, boost_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    if config.noise_p:
        audio = wave.add_noise(audio, noise_seed, config.noise_snr_db, "bank", bank=bank, p=config.noise_p)
    if config.gain_p:
        audio = wave.random_gain(audio, gain_seed, config.gain_db, p=config.gain_p)
    if config.telephony_p:
        audio = wave.telephony(audio, phone_seed, sample_rate, p=config.telephony_p)
    if config.rawboost_p:
        audio = wave.rawboost(audio, boost_seed, config.rawboost_chain, p=config.rawboost_p)
    return audio


def _augment_batch(inputs, labels, seed, config: AugmentConfig, features_on_host: bool):
    """SpecAugment on host features; MixUp/CutMix on features, or on waveforms as (batch, samples, 1)."""
    mask_seed, mix_seed, cut_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    if config.spec_augment_p and features_on_host:
        # masks take the batch's mean level (0 would be full scale for dB features)
        inputs = spec.spec_augment(inputs, mask_seed, mask_value=tf.reduce_mean(inputs), p=config.spec_augment_p)
    as_frames = inputs if features_on_host else inputs[..., None]
    if config.mixup_p:
        as_frames, labels = spec.mixup(as_frames, labels, mix_seed, config.mixup_alpha, p=config.mixup_p)
    if config.cutmix_p:
        as_frames, labels = spec.cutmix(as_frames, labels, cut_seed, config.cutmix_alpha, p=config.cutmix_p)
    return (as_frames if features_on_host else as_frames[..., 0]), labels


def _seeds(seed: int) -> tf.data.Dataset:
    """An endless stream of [2] int64 stateless seeds, new each epoch, the same for the same ``seed``."""
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)


def train_dataset(config: InputConfig, features: FeatureConfig | None = None, seed: int = 0,
                  input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Batches of (inputs, bona fide probability) for ``fit``.

    ``inputs`` are waveforms (batch, crop_samples), or host-computed features (batch, frames, bins) when
    ``features`` is given (``FeatureConfig.where == 'host'``); with ``paired`` a second axis of 2 holds the
    clean crop and its augmented copy. ``batch_size`` is per input pipeline.
    """
    examples = records.load_dataset(config.tfrecords, config.splits, config.folds, seed=seed,
                                    input_context=input_context, deterministic=True, parse=False)
    if config.balanced:
        def label_of(serialized):
            return records.parse_example(serialized, fields=("label_id",))["label_id"]

        by_label = [examples.filter(lambda s, label=label: tf.equal(label_of(s), label)).repeat()
                    for label in (1, 0)]
        examples = tf.data.Dataset.sample_from_datasets(by_label, [0.5, 0.5], seed=seed)
    else:
        examples = examples.shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    augment, rate, crop = config.augment, config.sample_rate, config.crop_samples
    bank = noise_bank(augment, crop, rate, seed)

    def prepare(serialized, seed_pair):
        example = records.parse_example(serialized, pcm=True, fields=("audio", "label_id"))
        crop_seed, augment_seed = tf.unstack(tf.random.experimental.stateless_split(seed_pair, 2))
        clean = records.pcm_to_float(wave.random_crop(example["audio"], crop_seed, crop))
        audio = _augment_wave(clean, augment_seed, augment, rate, bank)
        audio = tf.stack([clean, audio]) if config.paired else audio
        return tf.ensure_shape(audio, [2, crop] if config.paired else [crop]), tf.cast(example["label_id"], tf.float32)

    batches = (tf.data.Dataset.zip((examples, _seeds(seed)))
               .map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .batch(config.batch_size, drop_remainder=True))
    frontend = make_frontend(features) if features is not None else None

    def finish(audio, labels, seed_pair):
        inputs = frontend(audio) if frontend is not None else audio
        if config.paired:  # batch mixing would break the anchor / positive correspondence
            return inputs, labels
        return _augment_batch(inputs, labels, seed_pair, augment, frontend is not None)

    batches = tf.data.Dataset.zip((batches, _seeds(seed + 1))).map(
        lambda batch, seed_pair: finish(*batch, seed_pair), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)


def eval_dataset(config: InputConfig, features: FeatureConfig | None = None, windows_hop: int | None = None,
                 drop_remainder: bool = False) -> tf.data.Dataset:
    """Batches of dicts ``inputs, label, utt_id, attack`` in file order for scoring.

    Default: the first ``crop_samples`` of each utterance (repeat-padded), as the peers report. With
    ``windows_hop``: every window of the full utterance, one row each, to aggregate per ``utt_id``.
    """
    examples = records.load_dataset(config.tfrecords, config.splits, config.folds, shuffle_files=False,
                                    deterministic=True)
    crop = config.crop_samples

    def first(example):
        return {"inputs": tf.ensure_shape(wave.first_window(example["audio"], crop), [crop]),
                "label": tf.cast(example["label_id"], tf.float32),
                "utt_id": example["utt_id"], "attack": example["attack"]}

    def windows(example):
        cuts = sliding_windows(example["audio"], crop, windows_hop)
        count = tf.shape(cuts)[0]
        return tf.data.Dataset.from_tensor_slices({
            "inputs": tf.ensure_shape(cuts, [None, crop]),
            "label": tf.fill([count], tf.cast(example["label_id"], tf.float32)),
            "utt_id": tf.fill([count], example["utt_id"]), "attack": tf.fill([count], example["attack"])})

    rows = (examples.flat_map(windows) if windows_hop else
            examples.map(first, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
    batches = rows.batch(config.batch_size, drop_remainder=drop_remainder)
    if features is not None:
        frontend = make_frontend(features)
        batches = batches.map(lambda b: {**b, "inputs": frontend(b["inputs"])}, num_parallel_calls=tf.data.AUTOTUNE,
                              deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)
