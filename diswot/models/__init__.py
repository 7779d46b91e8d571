"""Models: the CIFAR zoo, the NB201 network, the Transformer encoder, profiling, features and
checkpoints."""

from diswot.models import cifar  # noqa: F401  (registers the CIFAR models)
from diswot.models.checkpoint import Teacher, build_model, load_teacher, save_checkpoint
from diswot.models.features import FeatureExtractor, Features, extract_features
from diswot.models.profile import Cost, count_macs, count_params, profile
from diswot.models.registry import MODELS, list_models, register_model
from diswot.models.transformer import TransformerClassifier

__all__ = [
    "MODELS",
    "Cost",
    "FeatureExtractor",
    "Features",
    "Teacher",
    "TransformerClassifier",
    "build_model",
    "count_macs",
    "count_params",
    "extract_features",
    "list_models",
    "load_teacher",
    "profile",
    "register_model",
    "save_checkpoint",
]
