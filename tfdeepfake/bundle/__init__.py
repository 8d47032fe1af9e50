"""Model bundles: one folder that fully describes a usable detector.

    bundle/
      model.keras      the whole Keras model: waveform window (batch, window_samples) -> one bona fide logit
      bundle.json      format version, model id, input rule, calibration, threshold, metrics, provenance
      model_card.md    intended use, training data, results with 95% intervals, failure modes, licence

A bundle may hold an exported model instead of model.keras (model.tflite, model.onnx or saved_model/, named by
bundle.json's model.file and model.format): ``tfdeepfake calibrate`` of an export writes one, and the Detector
runs it with the export's runner.

The input rule (tfdeepfake.input_rule) and the decision rule (:mod:`.decision`: calibration and threshold) are
data here and arithmetic too, so the Detector and the training scores agree. :mod:`.schema` is what bundle.json
holds, :mod:`.folder` writes and reads it, :mod:`.card` renders the model card, :mod:`.sources` makes bundles from
pretrained presets and official checkpoints.
"""
from ..errors import BundleError
from ..input_rule import InputRule, aggregate_logits, window_indices
from .card import render_card
from .decision import Calibration, Threshold, calibrate_on_dev, measured
from .folder import add_out_of_domain, model_window, provenance, read_bundle, write_bundle, write_export_bundle
from .schema import (CARD_FILE, FORMAT, FORMAT_VERSION, GENERAL_FAILURE_MODES, INTENDED_USE, KERAS, META_FILE,
                     MODEL_FILE, Bundle, check_model_file, load_keras_model)
from .sources import bundle_from_checkpoint, bundle_from_preset, official_model_config

__all__ = ["BundleError", "Bundle", "CARD_FILE", "Calibration", "FORMAT", "FORMAT_VERSION", "GENERAL_FAILURE_MODES",
           "INTENDED_USE", "InputRule", "KERAS", "META_FILE", "MODEL_FILE", "Threshold", "add_out_of_domain",
           "aggregate_logits", "bundle_from_checkpoint", "bundle_from_preset", "calibrate_on_dev", "check_model_file",
           "load_keras_model", "measured", "model_window", "official_model_config", "provenance", "read_bundle",
           "render_card", "window_indices", "write_bundle", "write_export_bundle"]
