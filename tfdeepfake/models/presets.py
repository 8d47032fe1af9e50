"""Pretrained detectors: a model from the registry with its official weights, from one call.

    model = load_preset("aasist")          # or model.name: aasist + model.params.preset: aasist in a config

Each preset records what it was trained on, its input rule, its published result, its parameter count (as the
original counts them), its licence and its source (repository @ commit). The weights come through the one
resolver (tfdeepfake/weights.py): a local path, ../shared/weights, the cache, or the pinned URL.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tensorflow as tf

from ..errors import WeightsError
from .aasist import build_aasist
from .aasist.convert import load_official_checkpoint
from .rawgat_st import build_rawgat_st
from ..weights import WeightsFile, resolve

# the families that have presets (the registry builds every family and reads presets from here)
FAMILY_BUILDERS = {"aasist": build_aasist, "rawgat_st": build_rawgat_st}

AASIST_REPO = "https://github.com/clovaai/aasist/raw/a04c9863f63d44471dde8a6abcb3b082b07cd1d1"
ASVSPOOF5_REPO = "https://github.com/asvspoof-challenge/asvspoof5/raw/fe23d3053a0889b305d98c9e4cadf418c213d972"
RAWGAT_REPO = ("https://github.com/eurecom-asp/RawGAT-ST-antispoofing/raw/"
               "e3b049f79b3cd9552e66f6d0ba844cbb9399c479")
ASVSPOOF2019_LA_TRAIN = ("ASVspoof 2019 LA train: 2,580 bona fide + 22,800 spoofed utterances, 20 speakers, "
                         "attacks A01-A06 (VCTK-based read speech, 16 kHz)")
# our measurements of the presets outside ASVspoof, written by scripts/pretrained_out_of_domain.py
MEASURED = Path(__file__).with_name("presets_measured.json")
INPUT_RULE = "first 64,600 samples (4.04 s) at 16 kHz mono; shorter input repeated to that length"
AASIST_LICENCE = "MIT (Copyright (c) 2021-present NAVER Corp.)"


@dataclass(frozen=True)
class Preset:
    name: str
    model: str  # registry name of the architecture
    params: dict  # its builder's parameters
    weights: WeightsFile
    training_data: str
    published: str  # the result its authors report, with the data it was measured on
    published_eer: float  # percent, on that data
    parameters: int  # trainable parameters as the original implementation counts them
    licence: str
    source: str
    paper: str
    sample_rate: int = 16000
    input_samples: int = 64600
    input_rule: str = INPUT_RULE
    notes: tuple[str, ...] = field(default_factory=tuple)

    def card(self) -> dict:
        """Everything the preset records, as plain data (for model cards and bundles)."""
        return asdict(self)

    def measured(self) -> list[dict]:
        """Our out-of-domain results of this preset (bundle ``metrics.out_of_domain`` entries), if measured."""
        return json.loads(MEASURED.read_text()).get(self.name, []) if MEASURED.is_file() else []


AASIST_PARAMS = dict(first_conv=128, filts=[70, [1, 32], [32, 32], [32, 64], [64, 64]], gat_dims=[64, 32],
                     pool_ratios=[0.5, 0.7, 0.5, 0.5], temperatures=[2.0, 2.0, 100.0, 100.0])

PRESETS = {preset.name: preset for preset in [
    Preset("aasist", "aasist", AASIST_PARAMS,
           WeightsFile("aasist/AASIST.pth", "51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0",
                       f"{AASIST_REPO}/models/weights/AASIST.pth"),
           ASVSPOOF2019_LA_TRAIN, "ASVspoof 2019 LA eval (attacks A07-A19): EER 0.83%, min t-DCF 0.0275", 0.83,
           297_866, AASIST_LICENCE, "clovaai/aasist @a04c9863, models/weights/AASIST.pth",
           "Jung et al., AASIST: audio anti-spoofing using integrated spectro-temporal graph attention networks, "
           "ICASSP 2022"),
    Preset("aasist-l", "aasist",
           dict(first_conv=128, filts=[70, [1, 32], [32, 32], [32, 24], [24, 24]], gat_dims=[24, 32],
                pool_ratios=[0.4, 0.5, 0.7, 0.5], temperatures=[2.0, 2.0, 100.0, 100.0]),
           WeightsFile("aasist/AASIST-L.pth", "814331d088032bb4c3fa61cc014789eadeed464209dd094ab3a2dd6ffbdce27a",
                       f"{AASIST_REPO}/models/weights/AASIST-L.pth"),
           ASVSPOOF2019_LA_TRAIN, "ASVspoof 2019 LA eval (attacks A07-A19): EER 0.99%, min t-DCF 0.0309", 0.99,
           85_306, AASIST_LICENCE, "clovaai/aasist @a04c9863, models/weights/AASIST-L.pth",
           "Jung et al., ICASSP 2022 (the light AASIST-L configuration)"),
    Preset("aasist-asvspoof5", "aasist", AASIST_PARAMS,
           WeightsFile("aasist-asvspoof5/best.pth",
                       "8f10fe1d1ce3ac62c19f00b86dfaf79f86f464301d23e08726b16b02edbb601c",
                       f"{ASVSPOOF5_REPO}/Baseline-AASIST/models/weights/AASIST/best.pth"),
           "ASVspoof 5 train (crowd-sourced MLS English speech, many TTS / VC attacks and codecs, 16 kHz)",
           "ASVspoof 5 validation (development) set: EER 15.2%", 15.2, 297_866, "MIT (NAVER / ASVspoof 5 organisers)",
           "asvspoof-challenge/asvspoof5 @fe23d305, Baseline-AASIST/models/weights/AASIST/best.pth",
           "Wang et al., ASVspoof 5: crowdsourced speech data, deepfakes and adversarial attacks at scale, 2024 "
           "(the AASIST baseline)"),
    Preset("rawgat-st", "rawgat_st", dict(first_conv=128, out_channels=70,
                                          filts=[32, [32, 32], [32, 64], [64, 64]]),
           WeightsFile("rawgat-st/RawGAT_ST_mul.pth",
                       "8a91ce8201d42119cbfb9ebca8850e5914f1a85959b3ca962819783738c2a9e2",
                       f"{RAWGAT_REPO}/Pre_trained_models/RawGAT_ST_mul/Best_epoch.pth"),
           ASVSPOOF2019_LA_TRAIN, "ASVspoof 2019 LA eval (attacks A07-A19): EER 1.06%, min t-DCF 0.0335", 1.06,
           440_810, "MIT (EURECOM)",
           "eurecom-asp/RawGAT-ST-antispoofing @e3b049f7, Pre_trained_models/RawGAT_ST_mul/Best_epoch.pth",
           "Tak et al., End-to-end spectro-temporal graph attention networks for speaker verification "
           "anti-spoofing and speech deepfake detection, ASVspoof 2021 workshop",
           notes=("input length fixed at 64,600 samples by the model's node projections",)),
]}


# The default of `tfdeepfake predict`: of the presets, the one with the lowest EER on the published TTS / vocoder
# sets in ../shared/corpora, scored as `predict` scores (scripts/pretrained_out_of_domain.py: hifigan-demo 32.2%,
# vits-demo 10.2%; the ASVspoof 2019 presets: 38-49%). Its uncalibrated threshold calls nearly all of those
# fakes bona fide: it ranks better than it decides.
DEFAULT_PRESET = "aasist-asvspoof5"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise WeightsError(f"unknown preset {name!r}; available: {sorted(PRESETS)}")
    return PRESETS[name]


def load_preset(name: str, input_samples: int | None = None, weights: str | None = None,
                 **overrides) -> tf.keras.Model:
    """The preset's model with its official weights. ``input_samples`` (default: the preset's 64,600) changes
    the input length where the architecture allows it; ``weights`` is a local checkpoint path instead of the
    resolver's search; ``overrides`` are training-time options of the builder (``freq_mask``, ``seed``,
    ``dropout``), never architecture parameters."""
    preset = get_preset(name)
    clash = sorted(set(overrides) & set(preset.params))
    if clash:
        raise WeightsError(f"preset {name!r} fixes {clash[0]}; build model.name={preset.model} without a "
                           "preset to change the architecture")
    model = FAMILY_BUILDERS[preset.model](None, input_samples or preset.input_samples, False,
                                          **preset.params, **overrides)
    load_official_checkpoint(model, resolve(preset.weights, weights), preset.model)
    return model

