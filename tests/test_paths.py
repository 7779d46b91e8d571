"""Output paths: a refused folder leaves nothing behind, an over-long name is refused up front."""

from __future__ import annotations

import pytest

from diswot.errors import RunDirError
from diswot.paths import check_out_name, make_dir, path_exists

TOO_LONG = "n" * 300


def test_a_refused_folder_takes_back_the_parents_made_for_it(tmp_path):
    with pytest.raises(RunDirError, match="File name too long"):
        make_dir(tmp_path / "new" / "deeper" / TOO_LONG)
    assert list(tmp_path.iterdir()) == []
    make_dir(tmp_path / "new" / "ok")  # an accepted one is made, parents and all
    assert (tmp_path / "new" / "ok").is_dir()


def test_a_name_longer_than_the_file_system_allows_is_refused_before_anything_is_made(tmp_path):
    for out in (tmp_path / f"{TOO_LONG}.csv", tmp_path / "new" / TOO_LONG / "t.csv"):
        with pytest.raises(RunDirError, match=r"--out: the name 'n+\.\.\.' is 30\d bytes, longer than"):
            check_out_name(out)
    assert list(tmp_path.iterdir()) == []
    check_out_name(tmp_path / "new" / ("n" * 200) / "table.csv")  # long but legal
    assert not path_exists(tmp_path / TOO_LONG) and not path_exists("bad\0name")
