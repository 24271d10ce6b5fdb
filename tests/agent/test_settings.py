"""Agent settings: flags over environment over config file over defaults; clear errors."""

from pathlib import Path

import pytest

from edgeorch.agent.settings import SettingsError, load_settings, parse_labels


def test_precedence_flags_env_file(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "server: http://file:1\nregion: file-region\nzone: z1\nlabels: {tier: gold}\n"
        "heartbeat_interval: 2\n"
    )
    env = {"EDGEORCH_AGENT_REGION": "env-region", "EDGEORCH_AGENT_DATA_DIR": str(tmp_path)}
    flags = {"region": "flag-region", "name": "edge-1", "latitude": None}
    settings = load_settings(flags, config=config, environ=env)
    assert settings.server == "http://file:1"
    assert settings.facts.region == "flag-region"
    assert settings.facts.zone == "z1"
    assert settings.labels == {"tier": "gold"}
    assert settings.heartbeat_interval == 2.0
    assert settings.data_dir == tmp_path.resolve()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"data_dir": "/tmp/x"}, "missing --server"),
        ({"server": "ftp://x", "data_dir": "/tmp/x"}, "server='ftp://x'"),
        ({"server": "http://x", "data_dir": "/tmp/x", "country": "ZZ"}, "ZZ"),
        ({"server": "http://x", "data_dir": "/tmp/x", "listen": "nope"}, "HOST:PORT"),
        ({"server": "http://x", "data_dir": "/tmp/x", "name": "Bad Name"}, "Bad Name"),
    ],
)
def test_bad_settings_name_the_value(flags: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("?", r"\?")):
        load_settings(flags, environ={})


def test_labels_and_unknown_config_keys(tmp_path: Path) -> None:
    assert parse_labels("a=1, b=2") == {"a": "1", "b": "2"}
    with pytest.raises(SettingsError, match="'oops' is not KEY=VALUE"):
        parse_labels(["oops"])
    config = tmp_path / "c.yaml"
    config.write_text("sever: http://typo\n")
    with pytest.raises(SettingsError, match=r"unknown keys \['sever'\]"):
        load_settings({}, config=config, environ={})
