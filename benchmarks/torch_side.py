"""Inference speed of the official PyTorch AASIST on CPU: the torch half of the TF-vs-torch benchmark.

    /opt/torchenv/bin/python benchmarks/torch_side.py --aasist-src /tmp/aasist_src/AASIST.py \
        --checkpoint /work/shared/weights/aasist/AASIST.pth --config /work/shared/weights/aasist/AASIST.conf \
        --batch 16 --clips 64 --seconds 4 --repeats 5 --threads 2 --seed 0 --out-logits /tmp/torch_logits.npy

Standalone on purpose (run by a side environment with torch; tfdeepfake never imports torch). The clips are either
--inputs FILE.npy (float32 [N, samples], e.g. written by the TF side so both run on identical data) or
0.1 * N(0, 1) noise from numpy's default_rng(--seed), --seconds at 16 kHz. After one warm-up pass over all clips,
each repeat times one pass in batches of --batch; prints one JSON line (clips/s as the median over repeats, ms per
full batch p50/p95) and saves the logits [N, 2] of the last pass to --out-logits.

The official evaluation loop, served (benchmarks/predict_throughput.py drives it):

    /opt/torchenv/bin/python benchmarks/torch_side.py --aasist-repo /tmp/aasist \
        --checkpoint /work/shared/weights/aasist/AASIST-L.pth --config /work/shared/weights/aasist/AASIST-L.conf \
        --file-list files.txt --threads 2

--aasist-repo is a checkout of https://github.com/clovaai/aasist (its main.py imports torchcontrib and
tensorboard: pip-install both into the side environment). The files of --file-list (one path a line) are laid out
as the official code expects its corpus (``flac/<key>.flac`` links and an eval protocol), the model comes from
main.get_model, the loader is main.get_loader's eval loader (data_utils.Dataset_ASVspoof2019_devNeval, the
config's batch size, shuffle=False, drop_last=False, pin_memory=True) and each timed pass is
main.produce_evaluation_file itself. Commands on stdin, one JSON reply line each on stdout: ``pass`` (one timed
pass: wall and CPU seconds, the scores it wrote), ``logits`` (an untimed pass through the same loader keeping both
outputs [spoof, bona fide], for parity), ``quit``. The first reply line, before any command, describes the setup.
"""
import argparse
import contextlib
import importlib
import importlib.util
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RATE = 16000


def load_official(path):
    """Import the official models/AASIST.py by path, so its source stays outside this repository."""
    spec = importlib.util.spec_from_file_location("official_aasist", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_config(path):
    """d_args from an official .conf (its model_config block) or from a bare d_args JSON."""
    config = json.loads(Path(path).read_text())
    return config.get("model_config", config)


def clips(args):
    """The clips to time: --inputs as given (first --clips rows), else seeded noise like the other benchmarks."""
    if args.inputs:
        waves = np.load(args.inputs)
        if waves.ndim != 2 or waves.dtype != np.float32:
            raise SystemExit(f"{args.inputs}: expected float32 [N, samples], got {waves.dtype} {waves.shape}")
        return waves[:args.clips] if args.clips else waves
    rng = np.random.default_rng(args.seed)
    return (0.1 * rng.standard_normal((args.clips or 32, round(args.seconds * RATE)))).astype(np.float32)


def one_pass(model, waves, batch):
    """Logits of all clips and the wall time of each batch, in ms."""
    logits, times = [], []
    with torch.inference_mode():
        for start in range(0, len(waves), batch):
            x = waves[start:start + batch]
            began = time.perf_counter()
            logits.append(model(x)[1])
            times.append((time.perf_counter() - began) * 1e3)
    return torch.cat(logits).numpy(), times


class OfficialLoop:
    """The official evaluation loop over a list of files, ready to be timed pass after pass."""

    def __init__(self, repo, config_path, checkpoint, paths, folder):
        sys.path.insert(0, str(Path(repo).resolve()))
        with contextlib.redirect_stdout(sys.stderr):  # its prints are not replies
            self.main = importlib.import_module("main")
            data_utils = importlib.import_module("data_utils")
            self.config = json.loads(Path(config_path).read_text())
            self.model = self.main.get_model(self.config["model_config"], "cpu")
        self.model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
        flac = Path(folder) / "flac"
        flac.mkdir()
        self.keys = [f"F{i:05d}" for i in range(len(paths))]
        for key, path in zip(self.keys, paths):
            (flac / f"{key}.flac").symlink_to(Path(path).resolve())
        self.protocol, self.scores = Path(folder) / "protocol.txt", Path(folder) / "scores.txt"
        self.protocol.write_text("".join(f"- {key} - - bonafide\n" for key in self.keys))
        dataset = data_utils.Dataset_ASVspoof2019_devNeval(list_IDs=self.keys, base_dir=Path(folder))
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=self.config["batch_size"], shuffle=False,
                                                  drop_last=False, pin_memory=True)

    def timed_pass(self):
        """main.produce_evaluation_file over the loader: wall and CPU seconds, the bona fide scores it wrote."""
        began, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(sys.stderr):
            self.main.produce_evaluation_file(self.loader, self.model, "cpu", str(self.scores), str(self.protocol))
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        rows = [line.split() for line in self.scores.read_text().splitlines()]
        if [row[0] for row in rows] != self.keys:
            raise SystemExit(f"{self.scores}: the official loop scored other files than given")
        return {"seconds": seconds, "cpu_seconds": cpu, "scores": [float(row[3]) for row in rows]}

    def logits(self):
        """Both outputs [spoof, bona fide] per file, through the same loader in eval mode, untimed."""
        self.model.eval()
        with torch.no_grad():
            return torch.cat([self.model(batch)[1] for batch, _ in self.loader]).numpy()


def serve_official_loop(args):
    """Answer ``pass`` / ``logits`` / ``quit`` on stdin with one JSON line each (see the module docstring)."""
    paths = [line.strip() for line in Path(args.file_list).read_text().splitlines() if line.strip()]
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        loop = OfficialLoop(args.aasist_repo, args.config, args.checkpoint, paths, folder)
        reply({"framework": "torch", "torch": torch.__version__, "python": platform.python_version(),
               "checkpoint": args.checkpoint, "parameters": sum(p.numel() for p in loop.model.parameters()),
               "batch_size": loop.config["batch_size"], "files": len(paths), "threads": torch.get_num_threads(),
               "interop_threads": torch.get_num_interop_threads(), "loader_workers": loop.loader.num_workers})
        for command in sys.stdin:
            command = command.strip()
            if command == "pass":
                reply(loop.timed_pass())
            elif command == "logits":
                reply({"logits": loop.logits().tolist()})
            elif command == "quit":
                return
            else:
                raise SystemExit(f"unknown command {command!r} (pass | logits | quit)")


def reply(row):
    print(json.dumps(row), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aasist-src", help="official clovaai/aasist models/AASIST.py (model timing)")
    parser.add_argument("--aasist-repo", help="a clovaai/aasist checkout (the official evaluation loop, served)")
    parser.add_argument("--file-list", help="with --aasist-repo: the audio files, one path a line")
    parser.add_argument("--checkpoint", required=True, help="state_dict .pth, e.g. AASIST.pth or AASIST-L.pth")
    parser.add_argument("--config", required=True, help="official .conf JSON (or a bare d_args JSON)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--clips", type=int, default=None, help="clips to run (default: all of --inputs, or 32)")
    parser.add_argument("--seconds", type=float, default=4.0, help="generated clip length; ignored with --inputs")
    parser.add_argument("--inputs", default=None, help="float32 [N, samples] .npy to run instead of noise")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-logits", default=None, help="where to save the logits [N, 2] (.npy)")
    args = parser.parse_args()
    if bool(args.aasist_src) == bool(args.aasist_repo):
        parser.error("give one of --aasist-src (model timing) and --aasist-repo (the official loop)")
    if args.aasist_repo:
        if not args.file_list:
            parser.error("--aasist-repo needs --file-list")
        return serve_official_loop(args)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = load_official(args.aasist_src).Model(model_config(args.config))
    model.load_state_dict(torch.load(args.checkpoint, map_location="cpu", weights_only=True))
    model.eval()
    waves = torch.from_numpy(clips(args))

    one_pass(model, waves, args.batch)                       # warm-up: allocator, oneDNN primitives
    rates, batch_ms = [], []
    for _ in range(args.repeats):
        began = time.perf_counter()
        logits, times = one_pass(model, waves, args.batch)
        rates.append(len(waves) / (time.perf_counter() - began))
        full = len(waves) // args.batch                      # a trailing partial batch is not a batch time
        batch_ms += times[:full] if full else times
    if args.out_logits:
        np.save(args.out_logits, logits.astype(np.float32))
    print(json.dumps({
        "framework": "torch", "torch": torch.__version__, "python": platform.python_version(),
        "checkpoint": args.checkpoint, "parameters": sum(p.numel() for p in model.parameters()),
        "batch": args.batch, "clips": len(waves), "samples": waves.shape[1], "repeats": args.repeats,
        "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
        "inputs": args.inputs or f"noise seed {args.seed}",
        "clips_per_s": round(float(np.median(rates)), 2),
        "ms_per_batch_p50": round(float(np.percentile(batch_ms, 50)), 2),
        "ms_per_batch_p95": round(float(np.percentile(batch_ms, 95)), 2),
        "out_logits": args.out_logits}))


if __name__ == "__main__":
    main()
