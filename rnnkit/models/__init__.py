"""The topologies: one-to-one, one-to-many, many-to-one, many-to-many (aligned and not),
forecasting. Every model is a :class:`Model` registered by class name in :data:`MODELS`."""

from .attention import BahdanauAttention, LuongAttention
from .base import MODELS, Model, StepOutput
from .captioner import ImageCaptioner
from .classifier import PooledOutput, SequenceClassifier, SequenceRegressor
from .ctc_beam import ctc_beam_decode
from .decoder import Decoder, DecoderOutput, DecoderState, Memory
from .encoder import SequenceEncoder
from .ensemble import ClassifierEnsemble, ForecastEnsemble
from .feedforward import FeedForward
from .forecast_outputs import Forecast, gaussian_nll, pinball_loss
from .forecaster import Forecaster
from .generator import ConditionalGenerator
from .language_model import LanguageModel, LMOutput
from .piano_roll import PianoRollLM
from .pooling import AttentionPooling, LastPooling, MeanPooling, make_pooling
from .sampling import sample_logits
from .seq2seq import DecodeResult, Seq2Seq
from .tagger import SequenceTagger, TaggerOutput, ctc_greedy_decode

__all__ = [
    "MODELS", "AttentionPooling", "BahdanauAttention", "ClassifierEnsemble",
    "ConditionalGenerator", "DecodeResult",
    "Decoder", "DecoderOutput", "DecoderState", "FeedForward", "Forecast", "ForecastEnsemble",
    "Forecaster",
    "ImageCaptioner",
    "LMOutput", "LanguageModel", "LastPooling", "LuongAttention", "MeanPooling", "Memory",
    "Model", "PianoRollLM", "PooledOutput", "Seq2Seq", "SequenceClassifier", "SequenceEncoder",
    "SequenceRegressor", "SequenceTagger", "StepOutput", "TaggerOutput", "ctc_beam_decode",
    "ctc_greedy_decode",
    "gaussian_nll", "make_pooling", "pinball_loss", "sample_logits",
]
