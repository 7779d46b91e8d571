"""Distillation stage: distillers (one registry), the shared trainer, teacher training and
``distill`` for one or several students at once."""

from diswot.distill.api import distill, load_split, student_specs, train_teacher
from diswot.distill.distillers import (
    DISTILLERS,
    DistillationLoss,
    Distiller,
    parse_distillers,
    register_distiller,
)
from diswot.distill.trainer import Recipe, StudentRun, Trainer, evaluate
from diswot.registry import load_plugins

__all__ = [
    "DISTILLERS",
    "DistillationLoss",
    "Distiller",
    "Recipe",
    "StudentRun",
    "Trainer",
    "distill",
    "evaluate",
    "load_split",
    "parse_distillers",
    "register_distiller",
    "student_specs",
    "train_teacher",
]

# every module of this folder registers its plug-ins: a new distiller is a new file, nothing to list
load_plugins(__name__, __path__)
