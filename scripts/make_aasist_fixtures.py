"""Write the AASIST / RawGAT-ST parity fixtures: tiny official PyTorch models with random weights, and their outputs.

Run with a side environment that has torch (the package itself never imports torch), pointing at the official sources:

    git -C /work/.mirror/clovaai+aasist/repo show HEAD:models/AASIST.py > /tmp/aasist_src/AASIST.py
    git -C /work/.mirror/eurecom-asp+RawGAT-ST-antispoofing/repo show HEAD:model.py > /tmp/aasist_src/rawgat_model.py
    /opt/torchenv/bin/python scripts/make_aasist_fixtures.py --aasist-src /tmp/aasist_src/AASIST.py \
        --rawgat-src /tmp/aasist_src/rawgat_model.py --out tests/fixtures/aasist

Outputs: OUT/NAME/{config.json, model.pth} (config in the official d_args format, plain torch.save of the state_dict),
OUT/outputs.npz (inputs, clip names, NAME/logits, NAME/hidden for AASIST) and OUT/README.md.
"""
import argparse
import copy
import importlib.util
import json
import platform
from pathlib import Path

import numpy as np
import soundfile
import torch
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
MAX_SAMPLES = 64600          # the longest model input; every model reads inputs[:, :nb_samp]
OFFSET = 8000                # skip the leading half second, which is mostly silence in LibriSpeech
SPEAKERS = 3
MIN_TOPK_GAP = 1e-5          # smallest score gap top-k may have to resolve: ~100x float32 spacing near 0.5
SEED_TRIES = 20

# Tiny variants of the official configs. AASIST's pos_S needs 23 spectral nodes (70 sinc filters); RawGAT-ST's
# hard-coded Linear(14,12), Linear(23,12), Linear(7,2) also fix nb_samp=64600 and first_conv=128.
MODELS = {
    "aasist_tiny": ("aasist", {
        "architecture": "AASIST", "nb_samp": 16000, "first_conv": 32,
        "filts": [70, [1, 8], [8, 8], [8, 16], [16, 16]], "gat_dims": [16, 8],
        "pool_ratios": [0.5, 0.7, 0.5, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0]}),
    # AASIST-L-like: narrower last blocks, gat_dims growing instead of shrinking, other pool ratios, odd kernel.
    "aasist_l_tiny": ("aasist", {
        "architecture": "AASIST", "nb_samp": 64600, "first_conv": 65,
        "filts": [70, [1, 8], [8, 8], [8, 6], [6, 6]], "gat_dims": [6, 12],
        "pool_ratios": [0.4, 0.5, 0.7, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0]}),
    "rawgat_st_tiny": ("rawgat", {
        "nb_samp": 64600, "out_channels": 70, "first_conv": 128, "in_channels": 1,
        "filts": [8, [8, 8], [8, 16], [16, 16]], "blocks": [2, 4], "nb_classes": 2}),
}
SOURCES = {"aasist": "clovaai/aasist a04c9863f63d44471dde8a6abcb3b082b07cd1d1 models/AASIST.py",
           "rawgat": "eurecom-asp/RawGAT-ST-antispoofing e3b049f79b3cd9552e66f6d0ba844cbb9399c479 model.py"}


def load_module(name, path):
    """Import an official model file by path, so the sources stay outside the repository."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def speech_clips(corpus):
    """One MAX_SAMPLES cut per speaker from the first SPEAKERS speakers (sorted) that have a long enough clip."""
    clips, names, speakers = [], [], set()
    for path in sorted(Path(corpus).rglob("*.flac")):
        speaker = path.parent.name
        if speaker in speakers:
            continue
        wave, rate = soundfile.read(path, dtype="float32", always_2d=True)
        wave = wave.mean(axis=1)
        if rate != SAMPLE_RATE:
            wave = resample_poly(wave, SAMPLE_RATE, rate).astype(np.float32)
        if len(wave) < OFFSET + MAX_SAMPLES:
            continue
        clips.append(wave[OFFSET:OFFSET + MAX_SAMPLES])
        names.append(str(path.relative_to(Path(corpus).parent)))
        speakers.add(speaker)
        if len(clips) == SPEAKERS:
            break
    if len(clips) < SPEAKERS:
        raise SystemExit(f"only {len(clips)} speakers with clips of {OFFSET + MAX_SAMPLES} samples under {corpus}")
    return clips, names


def make_inputs(corpus, seed):
    """Real speech (official loader scale, no normalisation) plus one Gaussian-noise clip."""
    clips, names = speech_clips(corpus)
    noise = 0.05 * np.random.default_rng(seed).standard_normal(MAX_SAMPLES)
    return np.stack(clips + [noise.astype(np.float32)]), names + ["noise:N(0,0.05^2)"]


def build(kind, config, sources):
    """The official model for d_args `config` (RawGAT-ST also takes the device its sinc filters live on)."""
    if kind == "aasist":
        return sources["aasist"].Model(config)
    return sources["rawgat"].RawGAT_ST(config, "cpu")


def randomise(model, calibration):
    """Non-trivial BatchNorm gains/offsets, then running statistics measured on data and perturbed.

    Measuring the statistics first keeps every layer in its working range (so outputs depend on the input);
    the perturbation makes sure running_mean/var, weight and bias all matter when the port folds BatchNorm.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0.0, 0.2)
            norm.reset_running_stats()
            norm.momentum = None          # cumulative average over the calibration pass
        model.train()
        model(calibration)
        for norm in norms:
            std = norm.running_var.sqrt()
            norm.running_mean.add_(0.2 * std * torch.randn_like(std))
            norm.running_var.mul_(torch.empty_like(std).uniform_(0.6, 1.6))
            norm.momentum = 0.1
    return model.eval()


def topk_gaps(model, kind):
    """Hooks that record, per pooling layer, the smallest score gap that top-k has to resolve.

    AASIST's read-out is order-free after pooling, so only the gap at the k-th place counts; RawGAT-ST feeds the
    pooled nodes in score order to Linear layers, so every gap among the kept nodes counts.
    """
    gaps, hooks = {}, []
    pools = [(n, m) for n, m in model.named_modules() if hasattr(m, "top_k_graph")]

    def hook(name, module):
        def record(_, args, __):
            scores = torch.sigmoid(module.proj(args[0])).squeeze(-1)
            n = scores.shape[1]
            k = max(int(n * module.k), 1) if kind == "aasist" else max(2, int(module.k * n))
            ordered = scores.sort(dim=1, descending=True).values
            if kind == "aasist":
                gap = (ordered[:, k - 1] - ordered[:, k]) if k < n else torch.ones(1)
            else:
                gap = (ordered[:, :min(k + 1, n) - 1] - ordered[:, 1:min(k + 1, n)]).min(dim=1).values
            gaps[name] = min(gaps.get(name, 1.0), gap.min().item())
        return record

    for name, module in pools:
        hooks.append(module.register_forward_hook(hook(name, module)))
    return gaps, hooks


def run(model, kind, x):
    """Eval-mode outputs as numpy: logits for both, plus AASIST's last_hidden."""
    with torch.inference_mode():
        result = model(x)
    if kind == "aasist":
        hidden, logits = result
        return {"logits": logits.numpy(), "hidden": hidden.numpy()}
    return {"logits": result.numpy()}


def float64_gap(model, kind, x, logits):
    """Largest |float32 - float64| logit difference: how much a faithful float32 port may differ by rounding alone."""
    wide = copy.deepcopy(model).double()
    wide.conv_time.band_pass = wide.conv_time.band_pass.double()   # a plain attribute, which .double() skips
    return float(np.abs(run(wide, kind, x.double())["logits"] - logits).max())


def make_model(name, kind, config, sources, x, seed):
    """Build and randomise the model, trying seeds upwards until no top-k decision is a near-tie."""
    for attempt in range(seed, seed + SEED_TRIES):
        torch.manual_seed(attempt)
        model = randomise(build(kind, config, sources), x)
        gaps, hooks = topk_gaps(model, kind)
        outputs = run(model, kind, x)
        for hook in hooks:
            hook.remove()
        gap = min(gaps.values())
        if gap >= MIN_TOPK_GAP:
            return model, outputs, gaps, attempt
        print(f"{name}: seed {attempt} has a top-k score gap of {gap:.1e} in {min(gaps, key=gaps.get)}, next seed")
    raise SystemExit(f"{name}: no seed in {seed}..{seed + SEED_TRIES - 1} avoids near-ties in top-k")


def config_json(config):
    """One key per line with inline lists, as in the official .conf model_config blocks."""
    return "{\n" + ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in config.items()) + "\n}\n"


def readme(args, names, summary):
    lines = [
        "# AASIST / RawGAT-ST parity fixtures",
        "",
        "Tiny configurations of the official PyTorch models with random weights, written by "
        "`scripts/make_aasist_fixtures.py`:",
        "",
        "```",
        "git -C /work/.mirror/clovaai+aasist/repo show HEAD:models/AASIST.py > /tmp/aasist_src/AASIST.py",
        "git -C /work/.mirror/eurecom-asp+RawGAT-ST-antispoofing/repo show HEAD:model.py "
        "> /tmp/aasist_src/rawgat_model.py",
        "/opt/torchenv/bin/python scripts/make_aasist_fixtures.py --aasist-src /tmp/aasist_src/AASIST.py "
        f"--rawgat-src /tmp/aasist_src/rawgat_model.py --out tests/fixtures/aasist --seed {args.seed}",
        "```",
        "",
        f"- torch {torch.__version__}, numpy {np.__version__}, Python {platform.python_version()}, CPU, float32.",
        f"- Sources: {SOURCES['aasist']}; {SOURCES['rawgat']} (imported by path, not copied).",
        "- `NAME/config.json`: the model's d_args in the official format; `NAME/model.pth`: "
        "`torch.save(model.state_dict())` (zip format).",
        "- Weights: default init after `torch.manual_seed(seed)` (the table's seed: the first from --seed + 100 i "
        f"upwards whose pooling scores have no near-tie, i.e. every top-k gap >= {MIN_TOPK_GAP:g}); "
        "BatchNorm weight ~ U(0.5, 1.5), bias ~ N(0, 0.2^2); running stats measured in one train-mode pass "
        "over the inputs, then mean += 0.2 std N(0,1) and var *= U(0.6, 1.6).",
        f"- `outputs.npz`: `inputs` float32 [N, {MAX_SAMPLES}] and `clips` (their sources); model NAME reads "
        "`inputs[:, :nb_samp]`. Speech clips are samples "
        f"{OFFSET}..{OFFSET + MAX_SAMPLES} at {SAMPLE_RATE} Hz (soundfile, unnormalised); the last row is noise.",
        "- `NAME/logits` [N, 2] from the eval-mode forward (Freq_aug=False); `NAME/hidden` is AASIST's last_hidden "
        "(the vector fed to out_layer).",
        "",
        "Clips: " + ", ".join(f"`{n}`" for n in names),
        "",
        "The float32-vs-float64 column is the largest |float32 - float64| logit difference of the official model",
        "itself: a yardstick for how closely a float32 port can agree; a flipped top-k decision would be far above it.",
        "",
        "| model | seed | parameters | smallest top-k score gap | float32 vs float64 | logits range |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {s['seed']} | {s['parameters']} | {s['gap']:.1e} | {s['rounding']:.1e} "
              f"| [{s['low']:.3f}, {s['high']:.3f}] |" for name, s in summary.items()]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aasist-src", required=True, help="official clovaai/aasist models/AASIST.py")
    parser.add_argument("--rawgat-src", required=True, help="official RawGAT-ST-antispoofing model.py")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--corpus", default="/work/shared/corpora/librispeech-sample")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(2)
    sources = {"aasist": load_module("official_aasist", args.aasist_src),
               "rawgat": load_module("official_rawgat", args.rawgat_src)}
    inputs, names = make_inputs(args.corpus, args.seed)
    arrays = {"inputs": inputs, "clips": np.array(names)}
    summary = {}
    for index, (name, (kind, config)) in enumerate(MODELS.items()):
        x = torch.from_numpy(inputs[:, :config["nb_samp"]])
        model, outputs, gaps, seed = make_model(name, kind, config, sources, x, args.seed + 100 * index)
        for i in range(len(x)):       # batch-independence: one clip at a time must give the same rows
            single = run(model, kind, x[i:i + 1])
            for key, value in single.items():
                np.testing.assert_allclose(value[0], outputs[key][i], rtol=1e-4, atol=1e-5, err_msg=f"{name} {key}")
        rounding = float64_gap(model, kind, x, outputs["logits"])
        if rounding > 1e-4:
            raise SystemExit(f"{name}: float32 and float64 logits differ by {rounding:.1e}; top-k is unstable")
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), folder / "model.pth")
        (folder / "config.json").write_text(config_json(config))
        arrays.update({f"{name}/{key}": value for key, value in outputs.items()})
        logits = outputs["logits"]
        summary[name] = {"parameters": sum(p.numel() for p in model.parameters()), "gap": min(gaps.values()),
                         "seed": seed, "rounding": rounding, "low": float(logits.min()), "high": float(logits.max())}
        print(f"{name}: seed {seed}, {summary[name]['parameters']} parameters, {len(model.state_dict())} tensors, "
              f"input {tuple(x.shape)}, outputs {({k: v.shape for k, v in outputs.items()})}, "
              f"float32-vs-float64 logits {rounding:.1e}, top-k gaps {({k: f'{v:.1e}' for k, v in gaps.items()})}")
        print(f"  logits {np.array2string(logits, precision=4, suppress_small=True).replace(chr(10), ' ')}")
    np.savez_compressed(args.out / "outputs.npz", **arrays)
    (args.out / "README.md").write_text(readme(args, names, summary))
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"wrote {args.out} ({size / 1e6:.2f} MB), torch {torch.__version__}, clips {names}")


if __name__ == "__main__":
    main()
