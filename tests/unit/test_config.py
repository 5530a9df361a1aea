import pytest

from strom.config import ALL_OPTIONS, Configuration, HeartbeatOptions, KafkaOptions
from strom.errors import ConfigError


def test_env_var_names_and_precedence():
    assert HeartbeatOptions.TIMEOUT.env_var == "STROM_HEARTBEAT_TIMEOUT"
    config = Configuration(env={"STROM_HEARTBEAT_TIMEOUT": "7000"})
    assert config.get(HeartbeatOptions.TIMEOUT) == 7000
    assert config.with_overrides({"heartbeat.timeout": 9000}).get(HeartbeatOptions.TIMEOUT) == 9000
    assert Configuration(env={}).get(HeartbeatOptions.INTERVAL) == 400


def test_derived_default_follows_ops_stack_port():
    assert Configuration(env={"STROM_KAFKA_PORT": "19092"}).get(KafkaOptions.BOOTSTRAP) == "127.0.0.1:19092"


def test_bad_value_names_the_variable():
    with pytest.raises(ConfigError, match="STROM_HEARTBEAT_INTERVAL='-1'"):
        Configuration(env={"STROM_HEARTBEAT_INTERVAL": "-1"}).get(HeartbeatOptions.INTERVAL)


def test_every_option_is_documented_and_unique():
    keys = [o.key for o in ALL_OPTIONS]
    assert len(keys) == len(set(keys))
    assert all(o.doc for o in ALL_OPTIONS)
