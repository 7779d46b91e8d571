"""diswot: training-free student architecture search for knowledge distillation.

The public API re-exported here is what the README documents::

    import diswot
    space = diswot.get_space("nb201")
    arch = space.sample(random.Random(0))
    model = space.build(arch, num_classes=10)
    print(space.encode(arch), space.cost(arch))

    # the default fitness ("auto") follows the space and the teacher; proxy="diswot" is DisWOT's own
    result = diswot.run_search("resnet-depth", teacher="teacher.pt", evaluations=64,
                               budget=diswot.Budget.parse(max_flops="41M"), out="runs/x")

``diswot.run_search`` is the search function (``diswot.search.search``); ``diswot.search`` is
the package holding its machinery (``from diswot.search import StrategyParams``).
"""

from diswot.data import ImageDataset, load_dataset, load_sample
from diswot.errors import (
    CheckpointError,
    DataError,
    DiswotError,
    InvalidArchError,
    UnknownNameError,
)
from diswot.models import (
    Cost,
    FeatureExtractor,
    Features,
    build_model,
    extract_features,
    list_models,
    load_teacher,
    register_model,
    save_checkpoint,
)
from diswot.search import Budget, SearchResult, StrategyParams
from diswot.search import search as run_search
from diswot.search_spaces import Choice, ChoiceSpace, SearchSpace, get_space, list_spaces, register_space

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "CheckpointError",
    "Choice",
    "ChoiceSpace",
    "Cost",
    "DataError",
    "DiswotError",
    "FeatureExtractor",
    "Features",
    "ImageDataset",
    "InvalidArchError",
    "SearchResult",
    "SearchSpace",
    "StrategyParams",
    "UnknownNameError",
    "build_model",
    "extract_features",
    "get_space",
    "list_models",
    "list_spaces",
    "load_dataset",
    "load_sample",
    "load_teacher",
    "register_model",
    "register_space",
    "run_search",
    "save_checkpoint",
]
