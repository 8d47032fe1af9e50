"""fairseq wav2vec 2.0 / XLS-R / HuBERT checkpoints without torch: equal to the PyTorch models on the committed
fixtures (scripts/make_fairseq_fixtures.py) in every layout and config kind, configuration classes read as inert
records, foreign globals refused by name, bad tensors refused by name with the model left untouched."""
import struct
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from helpers import ROOT, SSL_FIXTURES, assert_refused_untouched
from tfdeepfake.errors import CheckpointError
from tfdeepfake.models.porting import read_torch_pickle
from tfdeepfake.models.ssl import build_ssl_frontend, load_ssl_backbone
from tfdeepfake.models.ssl.checkpoints import fill_backbone
from tfdeepfake.models.ssl.fairseq import conv_layers, fairseq_config, read_fairseq_checkpoint
from tfdeepfake.models.ssl.wavlm import WavLMModel

FIXTURES = ROOT / "tests" / "fixtures" / "fairseq"
TOLERANCE = 1e-4
# checkpoint -> (its PyTorch outputs, what its cfg / args must give)
LAYOUTS = {
    "wav2vec2_base_args": ("wav2vec2_base_args", dict(model_type="wav2vec2", feat_extract_norm="group",
                                                      do_stable_layer_norm=False, conv_bias=False)),
    "xlsr_cfg": ("xlsr", dict(model_type="wav2vec2", feat_extract_norm="layer", do_stable_layer_norm=True,
                              conv_bias=True)),
    "xlsr_dict": ("xlsr", dict(model_type="wav2vec2", feat_extract_norm="layer", do_stable_layer_norm=True,
                               conv_bias=True)),
    "hubert_base_cfg": ("hubert_base_cfg", dict(model_type="hubert", feat_extract_norm="group",
                                                do_stable_layer_norm=False, conv_bias=False)),
}


def assert_hidden_states(outputs, expected):
    for i, state in enumerate(outputs["hidden_states"]):
        np.testing.assert_allclose(state.numpy(), expected[f"hidden_state_{i}"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(outputs["last_hidden_state"].numpy(), expected["last_hidden_state"],
                               atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_fairseq_checkpoint_matches_pytorch_in_every_hidden_state(name):
    outputs_name, fields = LAYOUTS[name]
    expected = np.load(FIXTURES / f"{outputs_name}.npz")
    config, _ = read_fairseq_checkpoint(str(FIXTURES / f"{name}.pt"))
    assert {k: getattr(config, k) for k in fields} == fields
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size,
            config.conv_dim, config.conv_kernel, config.conv_stride, config.num_conv_pos_embeddings,
            config.num_conv_pos_embedding_groups) == (32, 2, 4, 64, (16,) * 3, (10, 3, 3), (5, 2, 2), 16, 4)
    model = load_ssl_backbone(str(FIXTURES / f"{name}.pt"))
    outputs = model(tf.constant(expected["input_values"]))
    assert len(outputs["hidden_states"]) == 3
    assert_hidden_states(outputs, expected)


def test_front_end_from_a_fairseq_file():
    expected = np.load(FIXTURES / "xlsr.npz")
    frontend = build_ssl_frontend(checkpoint=str(FIXTURES / "xlsr_cfg.pt"), layer=-1)
    np.testing.assert_allclose(frontend(tf.constant(expected["input_values"])).numpy(),
                               expected["last_hidden_state"], atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("name", ["wav2vec2_base", "hubert_base"])
def test_hugging_face_pytorch_model_bin_matches_pytorch(name):
    """The Hugging Face fixtures' weights saved as pytorch_model.bin (restricted unpickler, no torch)."""
    expected = np.load(SSL_FIXTURES / name / "outputs.npz")
    model = load_ssl_backbone(str(SSL_FIXTURES / f"{name}_bin"))
    assert model.config.model_type == name.split("_")[0]
    assert_hidden_states(model(tf.constant(expected["input_values"])), expected)


def test_configuration_classes_are_inert_records():
    """The DictConfig, its nodes, the enum member and the fairseq dataclass types come back as records holding
    their pickled state; the numbers fairseq wrote are readable through them."""
    checkpoint = read_torch_pickle(str(FIXTURES / "xlsr_cfg.pt"), records=True, config_modules=("fairseq",))
    assert type(checkpoint["cfg"]).global_name == "omegaconf.dictconfig.DictConfig"
    model = checkpoint["cfg"].state["_content"]["model"]
    assert model.state["_content"]["encoder_layers"].state["_val"] == 2
    assert checkpoint["extra_state"]["seen"] == {1, 2}
    with pytest.raises(CheckpointError, match="omegaconf.dictconfig.DictConfig"):
        read_torch_pickle(str(FIXTURES / "xlsr_cfg.pt"))  # records only where asked for


def torch_zip(path, payload: bytes):
    """A zip-format PyTorch file holding ``payload`` as its pickle."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
    return str(path)


def text(value: str) -> bytes:
    """A str in pickle opcodes (BINUNICODE)."""
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


@pytest.mark.parametrize("module,name", [("os", "system"), ("builtins", "eval"), ("subprocess", "call")])
def test_a_pickle_naming_a_foreign_global_is_refused_and_runs_nothing(tmp_path, module, name):
    marker = tmp_path / "ran"
    command = f"open({str(marker)!r}, 'w')" if name == "eval" else f"touch {marker}"
    # {"cfg": None, "model": module.name(command)}: the call a malicious checkpoint makes while unpickling
    payload = (b"\x80\x02}(" + text("cfg") + b"N" + text("model") + f"c{module}\n{name}\n".encode() + text(command)
               + b"\x85Ru.")
    with pytest.raises(CheckpointError, match=rf"global {module}\.{name}"):
        read_fairseq_checkpoint(torch_zip(tmp_path / "evil.pt", payload))
    assert not marker.exists()


def test_a_foreign_global_inside_the_config_is_refused(tmp_path):
    """Records are for configuration kinds only: an argparse Namespace holding a posix.system call is refused."""
    payload = (b"\x80\x02}" + text("args") + b"cargparse\nNamespace\n)\x81}" + text("arch") + b"cposix\nsystem\n"
               + text("true") + b"\x85Rsbs.")
    with pytest.raises(CheckpointError, match=r"global posix\.system"):
        read_fairseq_checkpoint(torch_zip(tmp_path / "evil.pt", payload))


def built_model(name="xlsr_cfg"):
    config, state = read_fairseq_checkpoint(str(FIXTURES / f"{name}.pt"))
    model = WavLMModel(config)
    model(tf.zeros([1, 2000]))
    return model, state


@pytest.mark.parametrize("change,tensor", [
    ("missing", "encoder.layers.1.fc2.weight"),
    ("shape", "encoder.layers.0.self_attn.k_proj.weight"),
    ("extra", "encoder.layers.7.fc1.weight"),
    ("missing", "feature_extractor.conv_layers.2.2.1.bias"),
])
def test_bad_tensors_are_named_and_nothing_is_loaded(change, tensor):
    model, state = built_model()
    first = model.feature_extractor.convs[0].kernel  # assigned first: would change if loading began
    assert_refused_untouched(lambda state: fill_backbone(model, state), state, tensor, change, [first])


def test_pretraining_only_tensors_are_left_out_and_counted():
    model, state = built_model()
    fill_backbone(model, state)
    left = sorted(set(state.tensors) - state.used)
    assert left == ["final_proj.bias", "final_proj.weight", "mask_emb", "project_q.bias", "project_q.weight",
                    "quantizer.vars", "quantizer.weight_proj.bias", "quantizer.weight_proj.weight"]
    gain = state.tensors["encoder.pos_conv.0.weight_g"].size  # weight norm's gain, folded into the kernel
    assert model.count_params() == sum(state.tensors[k].size for k in state.used) - gain


def test_conv_feature_layers_are_parsed_without_eval():
    assert conv_layers("[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2") == \
        [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
    for text in ("__import__('os').system('true')", "[(512, 10)]", "[(1, 1, 1)] * 10**9", "[]"):
        with pytest.raises(CheckpointError, match="conv_feature_layers"):
            conv_layers(text)


def test_unsupported_fairseq_models_are_named():
    with pytest.raises(CheckpointError, match="wav2vec_ctc"):
        fairseq_config({"cfg": {"model": {"_name": "wav2vec_ctc"}}}, "x.pt")
    with pytest.raises(CheckpointError, match="layer_type = 'conformer'"):
        fairseq_config({"cfg": {"model": {"_name": "wav2vec2", "layer_type": "conformer"}}}, "x.pt")
    with pytest.raises(CheckpointError, match="not a fairseq checkpoint"):
        fairseq_config({"cfg": None, "args": None}, "x.pt")
