"""ferx: facial-expression recognition with a small, fast Mini-Xception."""
from .errors import FerxError
from .model import CLASSES, MiniXception
from .inference.recognizer import EmotionRecognizer, Face, detect_emotions
from .weights import load_pretrained, load_weights

__all__ = [
    "CLASSES", "EmotionRecognizer", "Face", "FerxError", "MiniXception", "detect_emotions", "load_pretrained", "load_weights",
]
__version__ = "0.1.0"
