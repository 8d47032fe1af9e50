"""The notebooks: committed without outputs and with one parameters cell, and each one executed end to end by
nbclient on a demo corpus built here, with its smoke parameters injected after the parameters cell."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

nbformat = pytest.importorskip("nbformat", reason="nbformat is the notebooks extra: pip install tfdeepfake[notebooks]")

NOTEBOOKS = ROOT / "notebooks"
NAMES = ("evaluate", "predict_export", "train_asvspoof")
FIXTURES = ROOT / "tests" / "fixtures" / "aasist"
ASTERISK = Path("/usr/share/asterisk/sounds")
CELL_TIMEOUT = 300  # seconds per cell


def read(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def parameters_index(notebook) -> int:
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'parameters'"
    return tagged[0]


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs_and_one_parameters_cell(name):
    notebook = read(name)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs are stripped in git"
    assert "SMOKE = False" in notebook.cells[parameters_index(notebook)].source
    text = "\n".join(cell.source for cell in notebook.cells)
    assert "YOUR-ORG" not in text.upper() and "git clone" not in text, "no placeholder install line"
    assert "tfdeepfake_command(" in text or "Detector" in text, "it calls the package"


def test_every_notebook_is_listed():
    assert tuple(sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb"))) == NAMES


def package_env() -> dict:
    """The environment for the kernel and for helper commands: this checkout first on the path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def demo_corpus(tmp_path_factory, request):
    """The smallest demo corpus with all three splits (4 prompts per voice: 96 clips, about 90 s on 2 cores)."""
    pytest.importorskip("nbclient", reason="nbclient is the notebooks extra: pip install tfdeepfake[notebooks]")
    pytest.importorskip("ipykernel", reason="ipykernel (the notebooks extra) runs the notebooks' python3 kernel")
    out = tmp_path_factory.mktemp("demo") / "corpus"
    command = [sys.executable, "-m", "tfdeepfake.cli", "make-demo-corpus", "--out", str(out), "--per-speaker", "4"]
    if not ASTERISK.is_dir():
        command += ["--bonafide", str(request.getfixturevalue("shared_dir") / "corpora" / "librispeech-sample")]
    subprocess.run(command, check=True, env=package_env(), capture_output=True)
    assert (out / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt").stat().st_size > 0
    return out


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """The tiny AASIST test fixture as a bundle: a detector that scores the demo corpus in seconds."""
    out = tmp_path_factory.mktemp("bundle") / "tiny"
    fixture = FIXTURES / "aasist_tiny"
    subprocess.run([sys.executable, "-m", "tfdeepfake.cli", "convert-checkpoint", str(fixture / "model.pth"),
                    "--config", str(fixture / "config.json"), "--out", str(out), "--name", "tiny"],
                   check=True, env=package_env(), capture_output=True)
    return out


def execute(name: str, parameters: dict, workdir: Path, monkeypatch):
    """Run the notebook in ``workdir`` with ``parameters`` injected after its parameters cell; the executed copy."""
    from nbclient import NotebookClient

    notebook = read(name)
    injected = nbformat.v4.new_code_cell("\n".join(f"{key} = {value!r}" for key, value in parameters.items()))
    injected.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(parameters_index(notebook) + 1, injected)
    for key, value in package_env().items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    workdir.mkdir(parents=True, exist_ok=True)
    NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


def text_of(notebook) -> str:
    """Everything the executed cells printed or displayed as text."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
            parts.append(output.get("data", {}).get("text/markdown", ""))
    return "\n".join(parts)


def images_of(notebook) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells for output in cell.get("outputs", []))


def test_train_notebook_builds_records_trains_and_scores(demo_corpus, tmp_path, monkeypatch):
    notebook = execute("train_asvspoof", {"SMOKE": True, "DATA_ROOT": str(demo_corpus),
                                          "TFRECORDS": str(tmp_path / "tfrecords"), "RUN_DIR": str(tmp_path / "run")},
                       tmp_path / "work", monkeypatch)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["model"] == "lcnn" and "eer" in metrics["eval"]
    assert (tmp_path / "run" / "bundle" / "model.keras").is_file()
    printed = text_of(notebook)
    assert "$ tfdeepfake build-records --dataset asvspoof2019-la" in printed and "strategy" in printed
    assert "eval: EER" in printed and "# Model card: lcnn" in printed and "decision" in printed


def test_predict_export_notebook_exports_and_times_each_model(demo_corpus, tmp_path, monkeypatch, shared_dir):
    if not (shared_dir / "weights" / "aasist" / "AASIST-L.pth").is_file():
        pytest.skip("../shared/weights/aasist/AASIST-L.pth not found")
    pytest.importorskip("tf2onnx", reason="the smoke export is ONNX: pip install tfdeepfake[onnx]")
    work = tmp_path / "work"
    notebook = execute("predict_export", {"SMOKE": True, "DATA_ROOT": str(demo_corpus / "ASVspoof2019_LA_eval")},
                       work, monkeypatch)
    assert (work / "exports" / "aasist-l" / "model.onnx").is_file()
    assert (work / "exports" / "aasist-l" / "model.onnx.bundle.json").is_file()
    printed = text_of(notebook)
    timed = re.findall(r"^(keras|onnx) +[\d.]+ +[\d.]+ +(\d+)% +\S+$", printed, re.MULTILINE)
    assert timed == [("keras", "100"), ("onnx", "100")], printed[-2000:]  # the export decides as Keras does
    assert images_of(notebook) >= 1, "the per-window figure is shown"


def test_evaluate_notebook_reports_and_plots(demo_corpus, tiny_bundle, tmp_path, monkeypatch):
    work = tmp_path / "work"
    notebook = execute("evaluate", {"SMOKE": True, "MODEL": str(tiny_bundle), "DATA_ROOT": str(demo_corpus)},
                       work, monkeypatch)
    metrics = json.loads((work / "reports" / "eval-calibrated" / "metrics.json").read_text())
    assert metrics["trials"]["evaluated"] > 0 and metrics["calibrated"]["dev_trials"]["evaluated"] > 0
    assert images_of(notebook) == 4 and "eval EER" in text_of(notebook)
