"""Score recordings: the Detector (files, arrays, live streams), the runners of every model format, speech
activity, and what a score is (tfdeepfake.inference.detector has the whole story)."""
from .detector import BATCH_WINDOWS, BLOCK_SECONDS, Detector
from .results import Prediction, WindowScore, score_windows
from .runners import FILE_SUFFIXES, FORMATS, KerasRunner, load_runner
from .speech import SpeechActivity, speech_activity
from .stream import LiveWindow, Stream, StreamScorer

__all__ = ["BATCH_WINDOWS", "BLOCK_SECONDS", "Detector", "FILE_SUFFIXES", "FORMATS", "KerasRunner", "LiveWindow",
           "Prediction", "SpeechActivity", "Stream", "StreamScorer", "WindowScore", "load_runner", "score_windows",
           "speech_activity"]
