import csv
import random

import pytest
import torch

from diswot.errors import DiswotError, InvalidArchError, UnknownNameError
from diswot.search_spaces import Choice, ChoiceSpace, get_space, list_spaces, register_space

ALL_SPACES = [
    "nb201",
    "resnet-depth",
    "resnet",
    "autodistil-base",
    "autodistil-small",
    "autodistil-tiny",
]


def test_every_space_is_registered():
    assert set(ALL_SPACES) <= set(list_spaces())


@pytest.mark.parametrize("name", ["nb201", "resnet-depth", "autodistil-tiny"])
def test_enumerate_matches_size_and_round_trips(name):
    space = get_space(name)
    archs = list(space.enumerate())
    assert len(archs) == space.size == len(set(archs))
    assert all(space.decode(space.encode(a)) == a for a in archs[:: max(1, len(archs) // 500)])


def test_sample_is_reproducible_from_seed():
    space = get_space("nb201")
    first = [space.sample(random.Random(7)) for _ in range(3)]
    again = [space.sample(random.Random(7)) for _ in range(3)]
    assert first == again


def test_nb201_index_mapping_equals_the_benchmark_table(nb201_table):
    space = get_space("nb201")
    with open(nb201_table, newline="") as f:
        strings = [row["ArchitectureString"] for row in csv.DictReader(f)]
    assert len(strings) == 15625
    for index, string in enumerate(strings):
        arch = space.decode(string)
        assert space.index(arch) == index
        assert space.encode(space.arch_at(index)) == string
    assert [space.encode(a) for a in space.enumerate()] == strings


def test_nb201_cost_equals_the_benchmark():
    space = get_space("nb201")
    arch = space.decode("|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|")
    cost = space.cost(arch)
    assert cost.params == 73306
    assert cost.flops == pytest.approx(7.78e6, rel=0.002)
    # the NB201 paper's range: 0.07M..1.53M parameters and 7.78M..220.11M FLOPs on CIFAR-10
    largest = space.cost(("nor_conv_3x3",) * 6)
    assert largest.params / 1e6 == pytest.approx(1.53, abs=0.005)
    assert largest.flops / 1e6 == pytest.approx(220.11, abs=0.01)


def test_cost_is_cached():
    space = get_space("resnet-depth")
    arch = space.decode("333")
    first = space.cost(arch)
    assert space.cost(arch) is first
    assert first.params == 272474  # ResNet-20
    assert first.flops == pytest.approx(40.8e6, rel=0.01)


def test_resnet_space_at_224_counts_resnet18():
    space = get_space("resnet", image_size=224)
    cost = space.cost(space.decode("basic-2x64-2x128-2x256-2x512"))
    assert cost.params == 11181642  # ResNet-18 with a 10-class head
    assert cost.flops == pytest.approx(1.82e9, rel=0.01)


def test_autodistil_cost_depends_on_sequence_length():
    short, long = (
        get_space("autodistil-tiny", seq_len=32),
        get_space("autodistil-tiny", seq_len=128),
    )
    arch = short.decode("L4-H128-A7-R2.0")
    assert short.cost(arch).params == long.cost(arch).params
    assert long.cost(arch).flops > 4 * short.cost(arch).flops  # linear parts x4, attention x16


@pytest.mark.parametrize(
    "name,key",
    [
        ("nb201", "|nor_conv_3x3~0|+|skip_connect~0|"),
        ("nb201", "|conv_5x5~0|+|skip_connect~0|none~1|+|none~0|none~1|none~2|"),
        ("nb201", "|none~1|+|skip_connect~0|none~1|+|none~0|none~1|none~2|"),
        ("nb201", ""),
        ("resnet-depth", "12"),
        ("resnet-depth", "222"),
        ("resnet", "basic-2x64"),
        ("resnet", "wide-2x64-2x128-2x256-2x512"),
        ("autodistil-tiny", "L12-H768-A12-R4.0"),
        ("autodistil-tiny", "layers=4"),
    ],
)
def test_malformed_keys_raise_clear_errors(name, key):
    with pytest.raises(InvalidArchError) as err:
        get_space(name).decode(key)
    assert repr(key)[1:-1][:10] in str(err.value) or "allowed" in str(err.value)


def test_unknown_space_name():
    with pytest.raises(UnknownNameError, match="Did you mean 'nb201'"):
        get_space("nb21")


def test_infinite_space_cannot_enumerate():
    from diswot.search_spaces import SearchSpace

    class Endless(SearchSpace):
        def sample(self, rng):
            return (rng.random(),)

        def mutate(self, arch, rng):
            return (rng.random(),)

        def crossover(self, a, b, rng):
            return b, a

        def encode(self, arch):
            return str(arch[0])

        def decode(self, key):
            return (float(key),)

        def build(self, arch, num_classes=10):
            return torch.nn.Linear(1, num_classes)

        def example_input(self, batch_size=1):
            return torch.zeros(batch_size, 1)

    space = Endless()
    assert space.size is None
    with pytest.raises(DiswotError, match="not finite"):
        space.enumerate()
    assert space.cost(space.decode("0.5")).params == 20


def test_user_defined_space_as_in_the_readme():
    @register_space("test-mlp", "an MLP width/depth space")
    class MLPSpace(ChoiceSpace):
        choices = (Choice("depth", (1, 2, 3)), Choice("width", (32, 64)))

        def encode(self, arch):
            return "d{}-w{}".format(*self.validate(arch))

        def decode(self, key):
            depth, width = key.removeprefix("d").split("-w")
            return self.validate((int(depth), int(width)))

        def build(self, arch, num_classes=10):
            depth, width = arch
            layers = [torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, width), torch.nn.ReLU()]
            for _ in range(depth - 1):
                layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
            return torch.nn.Sequential(*layers, torch.nn.Linear(width, num_classes))

        def example_input(self, batch_size=1):
            return torch.zeros(batch_size, 3, 32, 32)

    space = get_space("test-mlp")
    assert space.size == 6
    arch = space.decode("d2-w64")
    assert space.cost(arch).params == 3072 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    with pytest.raises(InvalidArchError, match="width=48"):
        space.validate((2, 48))
