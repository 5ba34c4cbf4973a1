"""Configuration: defaults, environment and TOML file, and errors that name the setting an operator must fix."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import config
from config import ConfigError, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def toml(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "tzurot.toml"
    path.write_text(text)
    return {"TZUROT_CONFIG": str(path)}


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = config.load({})
    assert settings == Settings()
    assert settings.data_dir == Path("./data")
    assert (settings.user_shards, settings.channel_shards) == (4, 2)
    assert settings.live_actor_cap == 400
    assert settings.idle_passivate_s == 900.0
    assert (settings.backoff_first_s, settings.backoff_max_s) == (0.1, 30.0)
    assert (settings.intensity_max_restarts, settings.intensity_window_s) == (5, 60.0)
    assert settings.park_cooldown_s == 300.0
    assert settings.liveness_period_s == 10.0
    assert settings.actor_admin_port == 19500
    assert settings.bind_host == "127.0.0.1"  # actor sockets are not reachable from outside by default
    assert settings.pending_cap == 200
    assert settings.ask_timeout_s == 10.0
    assert settings.store_path == Path("./data/tzurot.sqlite3")
    assert settings.supervisor_log_path == Path("./data/supervisor.log")


def test_environment_values_are_parsed_to_their_types() -> None:
    settings = config.load(
        {
            "TZUROT_DATA_DIR": "/var/lib/tzurot",
            "TZUROT_USER_SHARDS": "8",
            "TZUROT_BACKOFF_FIRST_S": "0.5",
            "TZUROT_IDLE_PASSIVATE_S": "60",
            "TZUROT_ACTOR_ADMIN_PORT": "20000",
            "TZUROT_BIND_HOST": "10.0.0.5",
        }
    )
    assert settings.data_dir == Path("/var/lib/tzurot") and isinstance(settings.data_dir, Path)
    assert settings.user_shards == 8 and type(settings.user_shards) is int
    assert settings.backoff_first_s == 0.5
    assert settings.idle_passivate_s == 60.0 and type(settings.idle_passivate_s) is float
    assert settings.actor_admin_port == 20000
    assert settings.bind_host == "10.0.0.5"
    assert settings.store_path == Path("/var/lib/tzurot/tzurot.sqlite3")
    assert settings.channel_shards == 2  # untouched settings keep their defaults


def test_unrelated_environment_variables_are_ignored() -> None:
    assert config.load({"HOME": "/root", "PATH": "/bin", "SHARDS": "abc"}) == Settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TZUROT_USER_SHARDS", "abc"),
        ("TZUROT_USER_SHARDS", "0"),
        ("TZUROT_USER_SHARDS", "-2"),
        ("TZUROT_USER_SHARDS", "2.5"),
        ("TZUROT_USER_SHARDS", ""),
        ("TZUROT_CHANNEL_SHARDS", "0"),
        ("TZUROT_LIVE_ACTOR_CAP", "many"),
        ("TZUROT_ACTOR_ADMIN_PORT", "70000"),
        ("TZUROT_ACTOR_ADMIN_PORT", "0"),
        ("TZUROT_ACTOR_ADMIN_PORT", "19500.0"),
        ("TZUROT_LIVENESS_PERIOD_S", "-1"),
        ("TZUROT_LIVENESS_PERIOD_S", "0"),
        ("TZUROT_ASK_TIMEOUT_S", "ten"),
        ("TZUROT_ASK_TIMEOUT_S", "nan"),
        ("TZUROT_PENDING_CAP", "1e3"),
    ],
)
def test_a_bad_environment_value_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load({variable: value})
    assert str(caught.value).startswith(f"{variable}:")
    assert repr(value) in str(caught.value)  # the operator sees what they wrote


def test_backoff_max_below_first_is_refused() -> None:
    with pytest.raises(ConfigError, match="^TZUROT_BACKOFF_MAX_S: .*TZUROT_BACKOFF_FIRST_S"):
        config.load({"TZUROT_BACKOFF_FIRST_S": "5", "TZUROT_BACKOFF_MAX_S": "1"})
    with pytest.raises(ConfigError, match="TZUROT_BACKOFF_MAX_S"):
        config.load({"TZUROT_BACKOFF_FIRST_S": "60"})  # above the default maximum of 30
    assert config.load({"TZUROT_BACKOFF_FIRST_S": "2", "TZUROT_BACKOFF_MAX_S": "2"}).backoff_max_s == 2.0


# ---- TOML file -----------------------------------------------------------------------------------


def test_a_toml_file_sets_values_by_lower_case_name(tmp_path: Path) -> None:
    env = toml(
        tmp_path,
        'data_dir = "/srv/tzurot"\nuser_shards = 6\nbackoff_max_s = 10\nask_timeout_s = 2.5\nbind_host = "10.1.2.3"\n',
    )
    settings = config.load(env)
    assert settings.data_dir == Path("/srv/tzurot")
    assert settings.user_shards == 6
    assert settings.backoff_max_s == 10.0 and type(settings.backoff_max_s) is float
    assert settings.ask_timeout_s == 2.5
    assert settings.bind_host == "10.1.2.3"


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    env = toml(tmp_path, "user_shards = 6\nchannel_shards = 3\n")
    settings = config.load({**env, "TZUROT_USER_SHARDS": "9"})
    assert settings.user_shards == 9
    assert settings.channel_shards == 3


def test_a_bad_value_in_the_file_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^TZUROT_USER_SHARDS:"):
        config.load(toml(tmp_path, "user_shards = 0\n"))
    with pytest.raises(ConfigError, match="^TZUROT_USER_SHARDS:.*not a valid int"):
        config.load(toml(tmp_path, "user_shards = 2.5\n"))
    with pytest.raises(ConfigError, match="^TZUROT_DATA_DIR:"):
        config.load(toml(tmp_path, "data_dir = 5\n"))


def test_a_good_environment_value_overrides_a_bad_one_in_the_file(tmp_path: Path) -> None:
    env = toml(tmp_path, "user_shards = 0\n")
    assert config.load({**env, "TZUROT_USER_SHARDS": "3"}).user_shards == 3


def test_a_boolean_for_a_number_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TZUROT_USER_SHARDS"):
        config.load(toml(tmp_path, "user_shards = true\n"))


def test_an_unknown_key_in_the_file_is_refused_by_name(tmp_path: Path) -> None:
    env = toml(tmp_path, "user_shards = 2\nuser_shard = 3\nTZUROT_PENDING_CAP = 5\n")
    with pytest.raises(ConfigError, match=r"^TZUROT_CONFIG: .*TZUROT_PENDING_CAP, user_shard$"):
        config.load(env)


def test_a_missing_file_is_refused_naming_tzurot_config(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="^TZUROT_CONFIG: cannot read") as caught:
        config.load({"TZUROT_CONFIG": str(missing)})
    assert str(missing) in str(caught.value)


def test_a_directory_as_the_file_is_refused_naming_tzurot_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^TZUROT_CONFIG: cannot read"):
        config.load({"TZUROT_CONFIG": str(tmp_path)})


def test_a_file_that_is_not_toml_is_refused_naming_tzurot_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^TZUROT_CONFIG: cannot read"):
        config.load(toml(tmp_path, "user_shards = = 4\n"))


# ---- describe ------------------------------------------------------------------------------------


def test_describe_covers_every_setting_with_its_variable_and_default() -> None:
    described = {variable: (default, text) for variable, default, text in config.describe()}
    defaults = Settings()
    fields = dataclasses.fields(Settings)
    assert len(config.describe()) == len(fields)
    for field in fields:
        variable = config.variable(field.name)
        assert variable in described, f"{field.name} is not described"
        default, text = described[variable]
        assert default == str(getattr(defaults, field.name))
        assert text.strip()


def test_every_variable_can_be_set_from_the_environment() -> None:
    """What describe() lists is what load() reads: set each one to its default and nothing breaks or changes."""
    env = {variable: default for variable, default, _ in config.describe()}
    assert config.load(env) == Settings()


def test_the_readme_documents_every_variable() -> None:
    readme = README.read_text()
    missing = [variable for variable, _, _ in config.describe() if f"`{variable}`" not in readme]
    assert missing == []


# ---- the database URL: PostgreSQL when set; its password never shown -------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://bot:hunter2@db/tzurot", "only postgresql:// URLs"),
        ("postgresql://bot:hunter2@db", "names no database"),
        ("postgresql://bot:hunter2@db:port/tzurot", "not usable"),
        # a password with an unencoded / ends the host early for a parser: still never shown, in any piece
        ("postgresql://bot:hunt/er2@db:5432/tzurot", "percent-encode"),
        ("postgresql://bot:12345/hunter2@db/tzurot", "percent-encode"),
    ],
)
def test_a_bad_database_url_is_refused_without_showing_its_password(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="^TZUROT_DATABASE_URL: ") as caught:
        config.load({"TZUROT_DATABASE_URL": url})
    said = str(caught.value)
    assert problem in said and "bot:***@db" in said
    assert not any(piece in said for piece in ("hunter2", "hunt", "er2", "12345"))


def test_a_database_url_is_accepted_and_never_in_the_settings_repr() -> None:
    settings = config.load({"TZUROT_DATABASE_URL": "postgresql://bot:hunter2@db:5432/tzurot?password=x2"})
    assert settings.database_url.startswith("postgresql://bot:hunter2@")
    assert "hunter2" not in repr(settings)
    assert config.redact_url(settings.database_url) == "postgresql://bot:***@db:5432/tzurot?password=***"


# ---- gateway shards ------------------------------------------------------------------------------


def test_gateway_shards_default_to_one_plain_client_running_it() -> None:
    settings = config.load({})
    assert (settings.shard_count, settings.gateway_shards, settings.sharded) == (1, (0,), False)


def test_a_shard_count_alone_runs_every_shard_sharded() -> None:
    settings = config.load({"TZUROT_SHARD_COUNT": "4"})
    assert (settings.gateway_shards, settings.sharded) == ((0, 1, 2, 3), True)


def test_shard_ids_pick_some_shards_in_the_order_given() -> None:
    settings = config.load({"TZUROT_SHARD_COUNT": "4", "TZUROT_SHARD_IDS": " 3, 1"})
    assert (settings.gateway_shards, settings.sharded) == ((3, 1), True)
    one_of_one = config.load({"TZUROT_SHARD_IDS": "0"})
    assert (one_of_one.gateway_shards, one_of_one.sharded) == ((0,), True)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"TZUROT_SHARD_COUNT": "0"}, "TZUROT_SHARD_COUNT"),
        ({"TZUROT_SHARD_COUNT": "two"}, "TZUROT_SHARD_COUNT"),
        ({"TZUROT_SHARD_IDS": "1"}, "shard 1 is not below TZUROT_SHARD_COUNT (1)"),
        ({"TZUROT_SHARD_COUNT": "2", "TZUROT_SHARD_IDS": "0,2"}, "shard 2 is not below"),
        ({"TZUROT_SHARD_COUNT": "2", "TZUROT_SHARD_IDS": "1,1"}, "shard 1 is listed twice"),
        ({"TZUROT_SHARD_COUNT": "2", "TZUROT_SHARD_IDS": "0,,1"}, "'' is not a shard id"),
        ({"TZUROT_SHARD_COUNT": "2", "TZUROT_SHARD_IDS": "-1"}, "'-1' is not a shard id"),
        ({"TZUROT_SHARD_COUNT": "2", "TZUROT_SHARD_IDS": "one"}, "'one' is not a shard id"),
    ],
)
def test_bad_gateway_shards_are_refused_naming_the_setting(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match="TZUROT_SHARD_") as refused:
        config.load(env)
    assert says in str(refused.value)


# ---- the public-bind guard -----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "localhost", "::1", "10.0.0.5", "172.16.9.1",
                                  "172.31.255.254", "192.168.1.20", "fd12:3456::1", "[fd00::2]"])
def test_actor_sockets_may_listen_on_loopback_or_a_private_network(host: str) -> None:
    assert config.load({"TZUROT_BIND_HOST": host}).bind_host == host


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::", "8.8.8.8", "172.32.0.1", "100.64.0.1", "169.254.1.1",
                                  "2001:db8::1", "node-a.example.com"])
def test_a_public_or_every_interface_bind_is_refused_unless_allowed(host: str) -> None:
    with pytest.raises(ConfigError, match="TZUROT_BIND_HOST") as refused:
        config.load({"TZUROT_BIND_HOST": host})
    assert "TZUROT_ALLOW_PUBLIC_BIND=1" in str(refused.value) and "run code" in str(refused.value)
    allowed = config.load({"TZUROT_BIND_HOST": host, "TZUROT_ALLOW_PUBLIC_BIND": "1"})
    assert allowed.bind_host == host and allowed.allow_public_bind == 1


def test_the_bind_guard_holds_for_a_toml_file_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TZUROT_BIND_HOST"):
        config.load(toml(tmp_path, 'bind_host = "0.0.0.0"\n'))
    with pytest.raises(ConfigError, match="TZUROT_ALLOW_PUBLIC_BIND"):
        config.load({"TZUROT_ALLOW_PUBLIC_BIND": "yes"})
