"""Apache Beam pipelines (the ``beam`` extra): the TFRecord build and batch scoring, locally or on a cluster.

    tfdeepfake build-records --dataset csv --root list.csv --out gs://bucket/records --runner dataflow -- \\
        --project P --region R --temp_location gs://bucket/tmp --setup_file ./pyproject.toml
    tfdeepfake predict gs://bucket/clips/ --model export/ --format csv --out gs://bucket/scores --runner direct

``--runner direct`` runs Beam's FnApiRunner in this process (or in ``--direct_num_workers`` processes with
``--direct_running_mode multi_processing``); dataflow, flink and spark hand the pipeline to that runner. Flags
tfdeepfake does not know, and everything after ``--``, go to Beam's PipelineOptions unchanged.
"""
from __future__ import annotations

from ..errors import TfDeepfakeError

# --runner name -> Beam's runner name (direct: the DirectRunner's batch engine, run directly; see pipeline())
RUNNERS = {"direct": "FnApiRunner", "dataflow": "DataflowRunner", "flink": "FlinkRunner", "spark": "SparkRunner"}


class BeamError(TfDeepfakeError, RuntimeError):
    """A pipeline that cannot start (Beam missing, bad options) or that failed on its runner."""


def pipeline(runner: str, beam_args: list[str]):
    """An empty Beam pipeline for ``runner`` (a key of RUNNERS) with ``beam_args`` as its PipelineOptions.

    ``direct`` uses the FnApiRunner itself rather than the DirectRunner, which would first try to download the
    Prism runner and, where it gets it, ignore ``--direct_num_workers``.
    """
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError as error:
        raise BeamError(f"--runner {runner} needs Apache Beam: pip install 'tfdeepfake[beam]' ({error})") from error
    if runner not in RUNNERS:
        raise BeamError(f"unknown runner {runner!r}; choose from {sorted(RUNNERS)}")
    if any(arg == "--runner" or arg.startswith("--runner=") for arg in beam_args):
        raise BeamError("give the runner once, as tfdeepfake's --runner (direct, dataflow, flink, spark)")
    if runner == "direct":
        from apache_beam.runners.portability.fn_api_runner import fn_runner

        return beam.Pipeline(runner=fn_runner.FnApiRunner(), options=PipelineOptions(beam_args))
    return beam.Pipeline(options=PipelineOptions([f"--runner={RUNNERS[runner]}", *beam_args]))


def run(pipeline_, what: str, runner: str):
    """Run a pipeline to its end; any failure becomes a BeamError naming the command, the runner and the cause."""
    try:
        result = pipeline_.run()
        state = result.wait_until_finish()
    except TfDeepfakeError:
        raise
    except Exception as error:  # a worker's exception comes back wrapped by the runner, in its own type
        raise BeamError(f"{what} failed on the {runner} runner: {_cause(error)}") from error
    if state is not None and str(state).rsplit(".", 1)[-1] not in ("DONE", "UNKNOWN"):
        raise BeamError(f"{what} on the {runner} runner ended in state {state}")
    return result


def _cause(error: Exception) -> str:
    """The innermost message of a runner's wrapped exception (Beam prefixes each stage it passed through)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    tagged = [line for line in lines if "Error:" in line or "error:" in line]
    return (tagged or lines or [type(error).__name__])[-1][:2000]
