"""The TPU proxy for every registered family: its tiny test config (tests/helpers.py: TINY) trains one step under
XLA (``jit_compile=True``) on waveforms, with a finite loss, a float32 logit and every trainable weight finite.

Slow: XLA compiles each family's forward and backward pass; the five whose compilation takes minutes are marked
``heavy`` (run by hand, ``pytest -m heavy``; CI's slow run leaves them out). Families whose compiled step is already checked
elsewhere (``COMPILED_ELSEWHERE``) are left out here to keep CI's slow run short; every registered family must be
in one of the two lists, so a new family cannot miss the check."""
import numpy as np
import pytest
import tensorflow as tf

from helpers import SAMPLES, TINY, toy_batch
from tfdeepfake.features import FeatureConfig
from tfdeepfake.models import BUILDERS, build_model

COMPILED_ELSEWHERE = {
    "ssl_aasist": "tests/models/ssl_aasist/test_model.py::test_whole_model_trains_one_step_compiled",
    "composed": "tests/models/test_composed.py::test_pairs_train_a_compiled_step_in_mixed_bfloat16",
}
FAMILIES = sorted(set(BUILDERS) - set(COMPILED_ELSEWHERE))
HEAVY = {"aasist", "conformer", "efficientnet", "rawgat_st", "ssl"}  # 1-4 min of XLA compilation each on 2 cores


def feature_config(name):
    return FeatureConfig.lfcc_baseline() if name == "lcnn" else FeatureConfig(kind="logmel", n_mels=32)


def test_every_family_has_a_compiled_step_check():
    assert set(COMPILED_ELSEWHERE) <= set(BUILDERS), sorted(set(COMPILED_ELSEWHERE) - set(BUILDERS))
    missing = sorted(name for name in FAMILIES if name not in TINY)
    assert not missing, f"{missing}: add a tiny test config to tests/helpers.py TINY"


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.heavy if name in HEAVY else pytest.mark.slow)
                                  for name in FAMILIES])
def test_family_trains_one_compiled_step(name):
    tf.keras.utils.set_random_seed(0)
    samples = SAMPLES.get(name, 8000)
    model = build_model(name, feature_config(name), samples, **TINY[name])
    model.compile(tf.keras.optimizers.Adam(1e-3), tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  jit_compile=True)
    waves, labels = toy_batch(samples, batch=2)
    loss = model.fit(waves, labels[:, None], batch_size=2, epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(loss) and model.output.dtype == tf.float32
    assert all(np.isfinite(w.numpy()).all() for w in model.trainable_weights)
