"""Full-size SSL-AASIST (XLS-R 300M + the AASIST graph back-end, random weights) against the official PyTorch model
in the same run: parameter counts, one 4 s forward (logit and the front-end's last hidden state), GFLOP per 4 s
window, CPU forward time at batch 1 and peak training memory at batch 2.

    python3 benchmarks/ssl_aasist_report.py --seed 0 [--repeats 5] [--threads 2] [--layers N]

The official side is TakHemlata/SSL_Anti-spoofing's model.py (--official-src, kept outside this repository; e.g.
``git -C /work/.mirror/TakHemlata+SSL_Anti-spoofing/repo show HEAD:model.py > /tmp/ssl_aasist_model.py``) run in
/opt/torchenv by scripts/ssl_fullsize_torch.py, with transformers' PyTorch Wav2Vec2Model in place of fairseq's XLS-R
(fairseq does not install on Python 3.11). That side builds the model with seeded random weights and writes the
XLS-R part as a Hugging Face folder and the back-end state dict; ours is ``build_model("ssl_aasist", ...,
checkpoint=folder)`` + ``load_backend_state``. The forwards of both are timed alternately (both models loaded, one
computing at a time); each training step runs in a fresh process of its own, one after the other, its peak resident
memory (VmHWM) less the peak after the imports. --layers N cuts the backbone to N transformer blocks (quick trials;
the results files are written only at full size). Writes results/ssl_aasist_fullsize.json and .md; last line
``speedup: X.XX`` = PyTorch forward time / ours.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
TORCH_SIDE = ROOT / "scripts" / "ssl_fullsize_torch.py"
SAMPLES = 64600
PRESET = "xls-r-300m"


def vm_hwm_mb() -> float:
    """This process's peak resident memory so far (VmHWM), in MB."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def backbone_fields(layers: int | None) -> dict:
    """XLS-R 300M's architecture (config.json fields), cut to ``layers`` transformer blocks when given."""
    from ssl_fullsize_report import ARCHITECTURE

    from tfdeepfake.models.ssl.presets import ssl_preset

    fields = {k: v for k, v in ssl_preset(PRESET).to_dict().items() if k in ARCHITECTURE}
    return {**fields, "num_hidden_layers": layers} if layers else fields


def set_threads(threads: int):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


# ------------------------------------------------------------------ the training-memory worker (a fresh process)


def train_memory_worker(seed: int, threads: int, layers: int | None):
    """One Adam step of the whole model on 2 x 64,600 samples; prints the peak memory after imports and after."""
    import tfdeepfake  # noqa: F401 (sets the legacy-Keras switch before TensorFlow loads)

    import numpy as np
    import tensorflow as tf

    from tfdeepfake.models.registry import build_model

    set_threads(threads)
    baseline = vm_hwm_mb()
    tf.keras.utils.set_random_seed(seed)
    source = {"config": backbone_fields(layers)} if layers else {"architecture": PRESET}
    model = build_model("ssl_aasist", None, SAMPLES, **source)
    # the official optimiser's settings (Adam, lr 1e-6, weight decay 1e-4; Keras applies the decay decoupled)
    model.compile(tf.keras.optimizers.Adam(1e-6, weight_decay=1e-4),
                  tf.keras.losses.BinaryCrossentropy(from_logits=True))
    built = vm_hwm_mb()
    waves = (0.1 * np.random.default_rng(seed).standard_normal((2, SAMPLES))).astype(np.float32)
    loss = model.train_on_batch(waves, np.array([[1.0], [0.0]], np.float32))
    print(json.dumps({"framework": "tensorflow", "baseline_mb": baseline, "built_mb": built, "peak_mb": vm_hwm_mb(),
                      "loss": float(loss), "threads": threads}), flush=True)


def json_line(process_output: str) -> dict:
    """The last JSON object line of a worker's output."""
    return json.loads([line for line in process_output.splitlines() if line.startswith("{")][-1])


def torch_environment(args) -> dict:
    """The torch side's environment: OMP_WAIT_POLICY as asked (PASSIVE by default: on a machine shared with other
    jobs, OpenMP's spin-waiting threads slow PyTorch down, so PASSIVE gives the reference its better time)."""
    return {**os.environ, "OMP_WAIT_POLICY": args.torch_omp_wait_policy} if args.torch_omp_wait_policy \
        else dict(os.environ)


def train_memory(args, fields_path: Path) -> dict:
    """Peak training memory of both sides, each in a fresh process, one after the other."""
    common = ["--seed", str(args.seed), "--threads", str(args.threads)]
    ours = subprocess.run([sys.executable, __file__, "--train-memory-worker", *common,
                           *(["--layers", str(args.layers)] if args.layers else [])],
                          check=True, capture_output=True, text=True)
    theirs = subprocess.run([args.torch_python, str(TORCH_SIDE), "ssl-aasist", "train-memory", "--src",
                             args.official_src, "--fields", str(fields_path), *common],
                            check=True, capture_output=True, text=True, env=torch_environment(args))
    return {"tensorflow": json_line(ours.stdout), "torch": json_line(theirs.stdout)}


# ------------------------------------------------------------------------------------------------ the report


class TorchSide:
    """The official model in /opt/torchenv: writes the checkpoint, then times a forward per request."""

    def __init__(self, args, fields_path: Path, work: Path):
        self.process = subprocess.Popen(
            [args.torch_python, str(TORCH_SIDE), "ssl-aasist", "prepare", "--src", args.official_src, "--fields",
             str(fields_path), "--out", str(work), "--seed", str(args.seed), "--threads", str(args.threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=torch_environment(args))
        self.info = self._reply()

    def _reply(self) -> dict:
        for line in self.process.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"the torch side ended (exit status {self.process.wait()}) without a reply")

    def forward_seconds(self) -> float:
        self.process.stdin.write("forward\n")
        self.process.stdin.flush()
        return self._reply()["seconds"]

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def parameter_accounting(model, torch_counts: dict) -> dict:
    """Our counts against the official ones, every difference named: the positional conv's weight-norm gain (folded
    into our kernel), bn1 of each residual block (never read by the official forward, not built here), the output
    layer's two rows (2 x 160 + 2) against our one logit (160 + 1); BatchNorm running statistics are buffers in
    PyTorch and non-trainable weights here."""
    import numpy as np

    trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    non_trainable = int(sum(np.prod(v.shape) for v in model.non_trainable_weights))
    one_row = torch_counts["out_layer"] // 2
    expected = (torch_counts["total"] - torch_counts["weight_norm_gain"] - torch_counts["masked_spec_embed"]
                - torch_counts["bn1"] - one_row)
    return {"ours_trainable": trainable, "ours_non_trainable": non_trainable,
            "official_parameters": torch_counts["total"], "official_ssl": torch_counts["ssl"],
            "official_backend": torch_counts["backend"], "official_batch_norm_buffers":
                torch_counts["batch_norm_buffers"] + torch_counts["bn1_buffers"],
            "weight_norm_gain": torch_counts["weight_norm_gain"], "bn1": torch_counts["bn1"],
            "bn1_buffers": torch_counts["bn1_buffers"], "output_row": one_row,
            "ours_expected_trainable": expected,
            "equal": trainable == expected and non_trainable == torch_counts["batch_norm_buffers"]}


def flop_counts(model, config, torch_flops: int) -> dict:
    """GFLOP of one 4 s forward three ways. TensorFlow's profiler counts every op of the traced graph it can see
    but not the positional grouped convolution (Keras runs a grouped conv as a function call the profiler does not
    enter); torch.utils.flop_counter counts matmuls and convolutions but not the attention products (CPU SDPA has
    no flop formula). Each is completed by the analytic count of what it misses (2 FLOP per multiply-add)."""
    from ssl_fullsize_report import gflop

    frames, width = config.frames(SAMPLES), config.hidden_size
    # SamePad: the conv computes frames + 1 outputs for an even kernel, the last one dropped
    positional = 2 * (frames + 1) * width * (width // config.num_conv_pos_embedding_groups) \
        * config.num_conv_pos_embeddings / 1e9
    attention = config.num_hidden_layers * 2 * (2 * frames * frames * width) / 1e9  # Q K^T and weights x V
    profiler = gflop(lambda x: model(x, training=False), SAMPLES)
    return {"tf_profiler": profiler, "torch_flop_counter": torch_flops / 1e9,
            "positional_conv_analytic": positional, "attention_products_analytic": attention,
            "tf_profiler_plus_positional_conv": profiler + positional,
            "torch_plus_attention_products": torch_flops / 1e9 + attention}


def interleaved_times(model, waveform, torch_side: TorchSide, repeats: int) -> dict:
    """Batch-1 forward seconds of both, alternating which goes first, after one warm-up each (ours: a
    tf.function, its first call traces)."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False))
    x = tf.constant(waveform)
    forward(x).numpy()
    torch_side.forward_seconds()
    ours, theirs = [], []
    for i in range(repeats):
        for side in (("tf", "torch") if i % 2 == 0 else ("torch", "tf")):
            if side == "tf":
                start = time.perf_counter()
                forward(x).numpy()
                ours.append(time.perf_counter() - start)
            else:
                theirs.append(torch_side.forward_seconds())
    return {"tf_seconds": ours, "torch_seconds": theirs, "tf_median": statistics.median(ours),
            "torch_median": statistics.median(theirs)}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    memory = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def run(args) -> dict:
    import tfdeepfake  # noqa: F401 (sets the legacy-Keras switch before TensorFlow loads)

    import numpy as np
    import tensorflow as tf

    from tfdeepfake.models.porting import StateDict, read_torch_checkpoint
    from tfdeepfake.models.registry import build_model
    from tfdeepfake.models.ssl_aasist import load_backend_state

    set_threads(args.threads)
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="ssl_aasist_fullsize_"))
    try:
        fields_path = work / "fields.json"
        fields_path.write_text(json.dumps(backbone_fields(args.layers)))
        torch_side = TorchSide(args, fields_path, work)
        try:
            model = build_model("ssl_aasist", None, SAMPLES, checkpoint=str(work / "xlsr"))
            backend = str(work / "backend.pth")
            load_backend_state(model, StateDict(read_torch_checkpoint(backend), backend))
            expected = np.load(work / "torch_outputs.npz")
            probe = tf.keras.Model(model.input, [model.get_layer("ssl_frontend").output, model.output])
            hidden, logit = (t.numpy() for t in probe(expected["waveform"], training=False))
            official_logit = expected["logits"][:, 1] - expected["logits"][:, 0]  # bona fide minus spoof
            parity = {"logit_ours": float(logit[0, 0]), "logit_official": float(official_logit[0]),
                      "logit_max_abs_diff": float(np.abs(logit[:, 0] - official_logit).max()),
                      "hidden_max_abs_diff": float(np.abs(hidden - expected["last_hidden_state"]).max()),
                      "hidden_max_abs": float(np.abs(expected["last_hidden_state"]).max()),
                      "hidden_shape": list(hidden.shape)}
            print(json.dumps(parity), flush=True)
            counts = parameter_accounting(model, torch_side.info["parameters"])
            config = model.get_layer("ssl_frontend").backbone.config
            flops = flop_counts(model, config, torch_side.info["flops"])
            times = interleaved_times(model, expected["waveform"], torch_side, args.repeats)
        finally:
            torch_side.close()
        del model, probe
        tf.keras.backend.clear_session()
        memory = train_memory(args, fields_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"command": "python3 " + " ".join([os.path.relpath(__file__, ROOT), *sys.argv[1:]]),
            "seed": args.seed, "preset": PRESET, "layers": config.num_hidden_layers, "samples": SAMPLES,
            "threads": args.threads, "repeats": args.repeats, "machine": machine(),
            "load_average_start": load_start, "load_average_end": os.getloadavg(),
            "versions": {"tensorflow": tf.__version__, "torch": torch_side.info["torch"],
                         "transformers": torch_side.info["transformers"]},
            "torch_threads": {"intra": torch_side.info["threads"], "interop": torch_side.info["interop_threads"]},
            "torch_attention": torch_side.info["attention"], "torch_omp_wait_policy": args.torch_omp_wait_policy,
            "parameters": counts, "parity": parity, "gflop": flops, "forward": times, "train_memory": memory,
            "speedup": times["torch_median"] / times["tf_median"]}


def markdown(r: dict) -> str:
    p, f, t, m, c = r["parity"], r["gflop"], r["forward"], r["train_memory"], r["parameters"]
    delta = {side: m[side]["peak_mb"] - m[side]["baseline_mb"] for side in ("tensorflow", "torch")}
    lines = [
        "# SSL-AASIST at full size (XLS-R 300M, random weights): ours against the official PyTorch model", "",
        f"Command: `{r['command']}` (torch side: scripts/ssl_fullsize_torch.py in /opt/torchenv); seed {r['seed']} "
        f"(torch.manual_seed for the weights, BatchNorm statistics drawn from seed + 1, the 4 s input "
        f"0.1 x N(0, 1) from numpy default_rng(seed)). Machine: {r['machine']['cpu']}, {r['machine']['cores']} "
        f"cores, {r['machine']['memory_gb']} GB, shared with other agents' jobs: load average "
        f"{r['load_average_start'][0]:.2f} at the start, {r['load_average_end'][0]:.2f} at the end, so times are "
        f"indicative; the ratio is from one run, the two sides alternating. TensorFlow {r['versions']['tensorflow']}, "
        f"torch {r['versions']['torch']}, transformers {r['versions']['transformers']}.", "",
        "The official side is SSL_Anti-spoofing's `model.py` as published (only its fairseq import and `SSLModel` "
        "replaced) with transformers' PyTorch `Wav2Vec2Model` of the XLS-R 300M architecture as the SSL part: "
        "fairseq's `model(x, mask=False, features_only=True)['x']` is the encoder output after the final LayerNorm "
        "of a layer-norm-first model, which is transformers' `last_hidden_state` of the stable-layer-norm model "
        "(same feature encoder with per-conv LayerNorm + GELU, LayerNorm before the projection, weight-normed "
        "positional conv with SamePad and GELU, pre-LN blocks with exact GELU, LayerNorm eps 1e-5).", "",
        "## Parameters", "",
        "| | count |", "|---|---:|",
        f"| official model (XLS-R part + back-end) | {c['official_parameters']:,} |",
        f"| of which XLS-R (transformers' Wav2Vec2Model) | {c['official_ssl']:,} |",
        f"| of which back-end | {c['official_backend']:,} |",
        f"| less the positional conv's weight-norm gain (folded into our kernel) | {c['weight_norm_gain']:,} |",
        f"| less bn1 of the residual blocks (never read by the official forward; not built here) | {c['bn1']:,} |",
        f"| less one output row: two classes (2 x 160 + 2) against our one logit (160 + 1) | {c['output_row']:,} |",
        f"| = expected trainable weights of ours | {c['ours_expected_trainable']:,} |",
        f"| ours, trainable (the whole model, as the official recipe fine-tunes it) | {c['ours_trainable']:,} |",
        f"| ours, non-trainable (BatchNorm moving statistics; PyTorch buffers, {c['bn1_buffers']:,} more in "
        f"bn1) | {c['ours_non_trainable']:,} |",
        f"| equal | {'yes' if c['equal'] else 'NO'} |", "",
        "fairseq's XLS-R checkpoint also holds pre-training-only tensors (quantizer, project_q, final_proj, "
        "mask_emb) that the official forward never reads; transformers' Wav2Vec2Model has none of them (nor, with "
        "masking off, `masked_spec_embed`), so neither count includes them.", "",
        "## One 4 s forward (64,600 samples, batch 1, eval mode)", "",
        "| | ours | official | max abs diff |", "|---|---:|---:|---:|",
        f"| logit (official: bona fide - spoof) | {p['logit_ours']:.6f} | {p['logit_official']:.6f} | "
        f"{p['logit_max_abs_diff']:.2e} |",
        f"| front-end last hidden state {tuple(p['hidden_shape'])} (max abs value {p['hidden_max_abs']:.2f}) | "
        f"| | {p['hidden_max_abs_diff']:.2e} |", "",
        f"Relative to the logit's size the difference is "
        f"{p['logit_max_abs_diff'] / max(abs(p['logit_official']), 1e-12):.1e} (random weights can put one input near "
        f"the decision boundary); the front-end, nearly all of the computation, is compared on every value, and "
        f"the back-end alone on the committed fixture of tests/models/ssl_aasist/test_model.py.", "",
        "## GFLOP per 4 s window", "",
        "| count | GFLOP |", "|---|---:|",
        f"| TensorFlow profiler (tf.compat.v1.profiler float_ops, traced graph) | {f['tf_profiler']:.1f} |",
        f"| + positional grouped conv (analytic; inside a function call the profiler does not enter) | "
        f"{f['positional_conv_analytic']:.2f} |",
        f"| = ours, complete | **{f['tf_profiler_plus_positional_conv']:.1f}** |",
        f"| torch.utils.flop_counter on the official model (matmuls and convolutions) | "
        f"{f['torch_flop_counter']:.1f} |",
        f"| + attention products Q K^T and weights x V (analytic; CPU SDPA has no flop formula) | "
        f"{f['attention_products_analytic']:.2f} |",
        f"| = official, complete | **{f['torch_plus_attention_products']:.1f}** |", "",
        "2 FLOP per multiply-add. The remaining gap is elementwise work (biases, norms, softmax, activations) "
        "that TensorFlow's profiler counts for some ops and the torch counter never does.", "",
        f"## CPU forward time (batch 1, median of {r['repeats']} after one warm-up, the two alternating)", "",
        f"Ours: a `tf.function` of the Keras model (no XLA), intra/inter-op threads {r['threads']}/{r['threads']}. "
        f"Official: `torch.no_grad()`, torch threads {r['torch_threads']['intra']} (interop "
        f"{r['torch_threads']['interop']}), attention `{r['torch_attention']}`, OMP_WAIT_POLICY "
        f"{r['torch_omp_wait_policy'] or 'unset'} (PASSIVE: on a shared machine OpenMP's spin-waiting slows PyTorch "
        f"down; PASSIVE gives the reference its better time here).", "",
        "| | median (s) | all runs (s) |", "|---|---:|---|",
        f"| ours | {t['tf_median']:.2f} | {', '.join(f'{s:.2f}' for s in t['tf_seconds'])} |",
        f"| official PyTorch | {t['torch_median']:.2f} | {', '.join(f'{s:.2f}' for s in t['torch_seconds'])} |",
        f"| speedup (PyTorch / ours) | **{r['speedup']:.2f}** | |", "",
        "## Peak training memory, batch 2 (one Adam step on 2 x 64,600 samples, the whole model trainable)", "",
        "Each side in a fresh process: peak resident memory (VmHWM) after the step less the peak after the imports. "
        "Ours: `model.compile(Adam(1e-6, weight_decay=1e-4), binary cross-entropy on the logit)` + "
        "`train_on_batch` (the first call traces the step). Official: `torch.optim.Adam(lr=1e-6, "
        "weight_decay=1e-4)`, cross-entropy weighted 0.1 / 0.9 as main_SSL_LA.py, `backward()` + `step()`. "
        "Both without the backbone's dropout and layer drop (our port has none; the reference turns them off), "
        "the back-end's dropouts on.", "",
        "| | after imports (MB) | model built (MB) | peak (MB) | peak - imports (MB) |", "|---|---:|---:|---:|---:|",
        *[f"| {name} | {m[side]['baseline_mb']:,.0f} | {m[side]['built_mb']:,.0f} | {m[side]['peak_mb']:,.0f} | "
          f"{delta[side]:,.0f} |"
          for name, side in (("ours (TensorFlow)", "tensorflow"), ("official (PyTorch)", "torch"))],
        f"| ratio ours / official | | | | {delta['tensorflow'] / delta['torch']:.2f} |", "",
        "All figures are peaks so far (VmHWM); 'model built' is taken before the first step (ours: built and "
        "compiled; official: built, optimiser made). Weights, gradients and Adam's two moments alone are 4 x 4 "
        "bytes per parameter on either side."]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="timed forwards per side")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layers", type=int, default=None, help="transformer blocks (default: XLS-R's 24)")
    parser.add_argument("--official-src", default=os.environ.get("SSL_AASIST_SRC", "/tmp/ssl_aasist_model.py"),
                        help="the official SSL_Anti-spoofing model.py (default $SSL_AASIST_SRC)")
    parser.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON", "/opt/torchenv/bin/python"))
    parser.add_argument("--torch-omp-wait-policy", default="PASSIVE",
                        help="OMP_WAIT_POLICY of the torch side ('' leaves it unset; default PASSIVE)")
    parser.add_argument("--train-memory-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_memory_worker:
        return train_memory_worker(args.seed, args.threads, args.layers)
    result = run(args)
    text = markdown(result)
    if not args.layers:
        (ROOT / "results" / "ssl_aasist_fullsize.json").write_text(json.dumps(result, indent=1) + "\n")
        (ROOT / "results" / "ssl_aasist_fullsize.md").write_text(text + "\n")
    print(text)
    print(f"speedup: {result['speedup']:.2f}")


if __name__ == "__main__":
    main()
