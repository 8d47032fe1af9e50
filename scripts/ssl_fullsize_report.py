"""Full-size SSL backbones with random weights, ours against transformers' PyTorch: parameter count of every
preset, one 4 s forward (every hidden state, max |diff|, time of both in the same run) for the presets named in
FORWARD, and GFLOP per 4 s window from the TensorFlow profiler. Writes results/ssl_frontends.md.

    python3 scripts/ssl_fullsize_report.py [--skip NAME ...]   (runs scripts/ssl_fullsize_torch.py in /opt/torchenv)
"""
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfdeepfake.models.ssl.checkpoints import load_ssl_backbone
from tfdeepfake.models.ssl.presets import SSL_PRESETS
from tfdeepfake.models.ssl.wavlm import WavLMModel

ROOT = Path(__file__).resolve().parents[1]
FORWARD = ["wav2vec2-base", "xls-r-300m"]
TORCH = "/opt/torchenv/bin/python"
ARCHITECTURE = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "feat_extract_norm", "do_stable_layer_norm", "conv_bias")


def release():
    """Free the last model's variables before the next (full-size models are GBs each)."""
    tf.keras.backend.clear_session()
    gc.collect()


def gflop(function, samples=64000):
    """Float operations of ``function`` on one (1, ``samples``) waveform, as tf.compat.v1.profiler counts them
    in the traced graph (also used by benchmarks/ssl_aasist_report.py)."""
    graph = tf.function(function).get_concrete_function(tf.TensorSpec([1, samples], tf.float32)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder(
        tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()).with_empty_output().build()
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops / 1e9


def main(skip):
    work = Path(tempfile.mkdtemp(prefix="ssl_fullsize_"))
    presets = {name: {k: v for k, v in config.to_dict().items() if k in ARCHITECTURE}
               for name, config in SSL_PRESETS.items()}
    (work / "presets.json").write_text(json.dumps(presets))
    subprocess.run([TORCH, str(ROOT / "scripts" / "ssl_fullsize_torch.py"), str(work / "presets.json"), str(work),
                    *FORWARD], check=True)
    torch_results = json.loads((work / "torch.json").read_text())
    rows = []
    for name, config in SSL_PRESETS.items():
        ours = None
        if name not in skip:
            model = WavLMModel(config, name=name.replace("-", "_"))
            model(tf.zeros([1, 400]))
            ours = model.count_params()
            del model
            release()
        rows.append((name, config, ours, torch_results[name]["parameters"]))
    forward = []
    for name in FORWARD:
        expected = np.load(work / name / "hidden_states.npz")
        model = load_ssl_backbone(str(work / name), name=name.replace("-", "_"))
        waveform = tf.constant(expected["waveform"])
        model(waveform)  # warm-up
        start = time.perf_counter()
        states = model(waveform)["hidden_states"]
        seconds = time.perf_counter() - start
        delta = max(float(np.abs(s.numpy() - expected[f"arr_{i}"]).max()) for i, s in enumerate(states))
        forward.append((name, len(states), delta, seconds, torch_results[name]["torch_seconds"],
                        gflop(lambda x: model(x)["last_hidden_state"])))
        del model, states
        release()
    write(rows, forward, skip)


def write(rows, forward, skip):
    lines = ["# SSL backbones at full size (random weights): ours (tf-keras) against transformers' PyTorch", "",
             f"Command: `python3 scripts/ssl_fullsize_report.py{''.join(' --skip ' + s for s in skip)}` "
             f"(torch half: scripts/ssl_fullsize_torch.py in /opt/torchenv); seed 0 (torch.manual_seed for the "
             f"weights, numpy default_rng(0) x 0.1 for the 4 s waveform); CPU; load average at the end "
             f"{os.getloadavg()[0]:.2f} (2 cores shared with other jobs, so times are indicative only).", "",
             "## Parameter counts", "",
             "transformers' count leaves out `masked_spec_embed` (the pre-training mask vector, unused at "
             "inference, absent from our port) and the positional convolution's weight-norm gain "
             "(num_conv_pos_embeddings values, folded into our kernel on loading).", "",
             "| preset | family | hidden x layers | norm / LN | ours | transformers | equal |",
             "|---|---|---|---|---:|---:|---|"]
    for name, config, ours, theirs in rows:
        arrangement = f"{config.feat_extract_norm} / {'pre-LN' if config.do_stable_layer_norm else 'post-LN'}"
        lines.append(f"| {name} | {config.model_type} | {config.hidden_size} x {config.num_hidden_layers} | "
                     f"{arrangement} | {ours if ours is not None else 'not built (memory)'} | {theirs} | "
                     f"{'yes' if ours == theirs else ('-' if ours is None else 'NO')} |")
    lines += ["", "## One 4 s forward (64,000 samples), every hidden state", "",
              "| preset | hidden states | max abs diff | ours (s) | PyTorch (s) | GFLOP (tf profiler) |",
              "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {n} | {k} | {d:.2e} | {a:.2f} | {b:.2f} | {g:.1f} |" for n, k, d, a, b, g in forward]
    lines += ["", "The profiler counts the convolutions, the matmuls (attention products included) and most "
              "elementwise ops of the traced graph, but not the positional grouped convolution, which Keras runs as "
              "a function call the profiler does not enter: add 2 x (frames + 1) x hidden x hidden / groups x kernel "
              "(1.9 GFLOP for base, 3.4 for XLS-R 300M at 199 frames).",
              "", "SSL-AASIST at full size (XLS-R 300M under the AASIST graph back-end) against the official PyTorch "
              "model, with GFLOP, forward time and training memory: results/ssl_aasist_fullsize.md "
              "(benchmarks/ssl_aasist_report.py)."]
    (ROOT / "results" / "ssl_frontends.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main([arguments[i + 1] for i, a in enumerate(arguments) if a == "--skip"])
