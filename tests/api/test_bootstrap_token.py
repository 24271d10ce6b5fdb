"""EDGEORCH_BOOTSTRAP_TOKEN: the same rule at start-up as in the token store."""

from pathlib import Path

import pytest

from edgeorch.api.bootstrap import prepare_store
from edgeorch.config import ServerSettings
from edgeorch.store import Database


@pytest.mark.parametrize("length", [24, 31, 513])
def test_a_bootstrap_token_of_the_wrong_length_names_the_accepted_range(
    tmp_path: Path, length: int
) -> None:
    settings = ServerSettings(data_dir=tmp_path, bootstrap_token="x" * length)
    with pytest.raises(ValueError, match=f"is {length} characters; use 32 to 512 printable"):
        prepare_store(Database(f"sqlite:///{tmp_path / 'db.sqlite'}"), settings)


def test_a_bootstrap_token_of_32_characters_is_the_first_admin_token(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, bootstrap_token="y" * 32)
    result = prepare_store(Database(f"sqlite:///{tmp_path / 'db.sqlite'}"), settings)
    assert result.admin_secret == "y" * 32
