import pytest

from diswot.errors import UnknownNameError
from diswot.registry import Registry


def test_register_get_and_list():
    reg: Registry[int] = Registry("widget")
    reg.register("One", "the first")(1)
    reg.register("two")(2)
    assert reg.get("one") == 1 and reg.get("ONE") == 1
    assert reg.names() == ["one", "two"]
    assert "two" in reg and "three" not in reg
    assert reg.entries()[0].summary == "the first"


def test_unknown_name_suggests_and_lists():
    reg: Registry[int] = Registry("widget")
    reg.register("resnet20")(1)
    with pytest.raises(UnknownNameError) as err:
        reg.get("resnet2")
    message = str(err.value)
    assert "Did you mean 'resnet20'" in message and "diswot list widgets" in message


def test_duplicate_registration_is_an_error():
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    with pytest.raises(ValueError):
        reg.register("A")(2)
