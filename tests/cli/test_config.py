"""Settings at the edge: precedence, the TOML file, every problem at once."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from klaviyo_connector.config import SyncConfig, load_settings
from klaviyo_connector.errors import ConfigError
from klaviyo_connector.keys import ApiKey

KEY = "pk_" + "a" * 30 + "wxyz"


@pytest.fixture(autouse=True)
def _no_klaviyo_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("KLAVIYO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_flags_beat_environment_beat_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path / "k.toml", f'api_key = "{KEY}"\ndataset = "f"\n')
    monkeypatch.setenv("KLAVIYO_DATASET", "env")
    settings, warnings = load_settings(config)
    assert settings.dataset == "env"
    assert warnings == []
    settings, _ = load_settings(config, dataset="flag", base_url=None)
    assert settings.dataset == "flag"
    assert settings.api_key == ApiKey(KEY)


def test_default_file_is_read_from_the_working_directory(tmp_path: Path) -> None:
    write(tmp_path / "klaviyo-connector.toml", 'tables = ["profile", "campaign"]\n')
    settings, _ = load_settings()
    assert settings.tables == ("campaign", "profile")


def test_tables_from_a_comma_list_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KLAVIYO_TABLES", "profile, list")
    settings, _ = load_settings()
    assert settings.tables == ("list", "profile")


def test_a_readable_key_file_warns(tmp_path: Path) -> None:
    config = write(tmp_path / "k.toml", f'api_key = "{KEY}"\n', mode=0o644)
    _, warnings = load_settings(config)
    assert warnings == [
        f"{config} holds an API key but other users can read it (mode 644); "
        f"run: chmod 600 {config}"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    config = write(
        tmp_path / "k.toml",
        'lookback_days = -1\nbase_url = "ftp://x"\ntables = "nope"\ncolour = 1\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    text = str(caught.value)
    for problem in ("lookback_days", "base_url", "tables", "colour: unknown setting"):
        assert problem in text


def test_missing_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")
    broken = write(tmp_path / "b.toml", "api_key = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)


def test_no_key_is_a_config_error_that_says_where_to_put_one() -> None:
    settings, _ = load_settings()
    with pytest.raises(ConfigError, match="KLAVIYO_API_KEY"):
        settings.sync_config()


def test_base_url_is_host_only_and_the_key_stays_masked() -> None:
    cfg = SyncConfig(api_key=ApiKey(KEY), base_url="http://127.0.0.1:8765/api/")
    assert cfg.base_url == "http://127.0.0.1:8765"
    assert KEY not in repr(cfg)
    assert "pk_…wxyz" in repr(cfg)


def test_one_problem_reads_as_one_sentence_then_the_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tables="foo")
    assert str(caught.value) == (
        "A setting has a problem: tables: unknown table(s) foo; choose from "
        "campaign, list, segment, profile, campaign_performance_stats. "
        "Fix it in the flags, KLAVIYO_* variables or the config file."
    )


def test_several_problems_are_one_per_line_and_the_fix_on_its_own() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(base_url="ftp://x", tables="foo")
    assert str(caught.value).splitlines() == [
        "The settings have 2 problems:",
        "  base_url: must start with http:// or https://.",
        "  tables: unknown table(s) foo; choose from campaign, list, segment, "
        "profile, campaign_performance_stats.",
        "Fix them in the flags, KLAVIYO_* variables or the config file.",
    ]


def test_a_message_without_a_full_stop_still_ends_before_its_fix() -> None:
    error = ConfigError("no stop here", fix="Do this.")
    assert str(error) == "no stop here. Do this."
    assert str(ConfigError("Ends.", fix="Do this.")) == "Ends. Do this."


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765/api/v2", "https://a.klaviyo.com/x", "http://h?q=1"]
)
def test_a_base_url_with_a_path_is_refused_with_the_address_to_use(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(base_url=url)
    text = str(caught.value)
    assert "base_url: must be the address alone, without" in text
    assert "e.g. https://a.klaviyo.com" in text


def test_bytes_that_are_not_utf8_are_shown_escaped_never_crash() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(dataset="k\udcff")
    assert str(caught.value) == (
        "The dataset setting 'k\\xff' is not valid UTF-8 text. "
        "Type it again, without the stray bytes."
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(tables="list,\udcff")
    assert "tables: unknown table(s) \\xff; choose from campaign" in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "file"),
    [
        ({"duckdb_path": "klaviyo.duckdb"}, "klaviyo.duckdb"),
        ({"duckdb_path": "~/data/Klaviyo.db"}, "Klaviyo.db"),
        ({"duckdb_path": "shop.duckdb", "dataset": "shop"}, "shop.duckdb"),
    ],
)
def test_a_duckdb_file_named_like_the_dataset_is_a_settings_problem(
    settings: dict[str, Any], file: str
) -> None:
    dataset = settings.get("dataset", "klaviyo")
    with pytest.raises(ConfigError) as caught:
        load_settings(**settings)
    assert str(caught.value) == (
        f"A setting has a problem: duckdb_path: the file {file} and the dataset "
        f"'{dataset}' share a name, which DuckDB cannot tell apart (it names the "
        "database after the file); choose another file name, e.g. "
        "klaviyo-warehouse.duckdb, or another dataset. Fix it in the flags, "
        "KLAVIYO_* variables or the config file."
    )


def test_a_duckdb_file_is_only_checked_against_its_own_dataset_and_destination(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allowed: list[dict[str, Any]] = [
        {"duckdb_path": "klaviyo.duckdb", "dataset": "shop"},
        {"duckdb_path": "klaviyo.duckdb", "destination": "postgres"},
        {"duckdb_path": "klaviyo-warehouse.duckdb"},
    ]
    for settings in allowed:
        assert load_settings(**settings)[0].duckdb_path.name == settings["duckdb_path"]
    monkeypatch.setenv("KLAVIYO_DATASET", "warehouse")
    with pytest.raises(ConfigError, match="dataset 'warehouse' share a name"):
        load_settings(duckdb_path="warehouse.duckdb")


@pytest.mark.parametrize("name", ["postgresql://loader:s3cret@db/analytics", "a b"])
def test_a_destination_must_be_a_name_and_is_never_echoed(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(destination=name)
    assert str(caught.value) == (
        "A setting has a problem: destination: must be a dlt destination name such "
        "as duckdb or postgres; credentials go in destination_credentials. Fix it "
        "in the flags, KLAVIYO_* variables or the config file."
    )
    settings, _ = load_settings(destination=" dlt.destinations.postgres ")
    assert settings.destination == "dlt.destinations.postgres"


def test_a_readable_file_with_destination_credentials_warns(tmp_path: Path) -> None:
    url = "postgresql://loader:s3cret@db/analytics"
    config = write(
        tmp_path / "k.toml", f'destination_credentials = "{url}"\n', mode=0o640
    )
    _, warnings = load_settings(config)
    assert warnings == [
        f"{config} holds destination credentials but other users can read it "
        f"(mode 640); run: chmod 600 {config}"
    ]
    config.chmod(0o600)
    assert load_settings(config)[1] == []


def test_only_commands_that_write_check_their_folder_and_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("")
    paths = {"data_dir": Path("notes.txt"), "duckdb_path": Path("notes.txt/w.db")}
    assert load_settings(**paths)[0].data_dir == Path("notes.txt")  # e.g. check
    with pytest.raises(ConfigError) as caught:
        load_settings(writes=True, **paths)
    assert str(caught.value) == (
        "The settings have 2 problems:\n"
        f"  duckdb_path: {tmp_path.resolve()}/notes.txt is a file, not a folder; "
        "choose another file.\n"
        "  data_dir: notes.txt is a file, not a folder; choose another folder.\n"
        "Fix them in the flags, KLAVIYO_* variables or the config file."
    )
    fresh = {"data_dir": Path("a/b"), "duckdb_path": Path("c/d/w.duckdb")}
    assert load_settings(writes=True, **fresh)[0].data_dir == Path("a/b")
    assert list(tmp_path.iterdir()) == [tmp_path / "notes.txt"]  # nothing created
    postgres = load_settings(writes=True, destination="postgres", duckdb_path=tmp_path)
    assert postgres[0].duckdb_path == tmp_path  # unused, so not checked


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("timeout", "inf", "timeout: Input should be a finite number."),
        ("timeout", "nan", "timeout: Input should be a finite number."),
        ("timeout", "3601", "timeout: Input should be less than or equal to 3600."),
        ("max_wait", "-inf", "max_wait: Input should be a finite number."),
        ("max_wait", "86401", "less than or equal to 86400."),
    ],
)
def test_seconds_must_be_finite_and_within_reason(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(f"KLAVIYO_{name.upper()}", value)
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_settings()
    with pytest.raises(ValidationError, match=name):
        SyncConfig(api_key=ApiKey(KEY), **{name: float(value)})  # the service's


@pytest.mark.parametrize(
    "name", ["klaviyo", "klaviyo_demo", "shop-1", "console", "x" * 100]
)
def test_a_pipeline_name_dlt_takes_is_accepted(name: str) -> None:
    from dlt.common.storages.file_storage import FileStorage

    FileStorage.validate_file_name_component(name)
    assert load_settings(pipeline_name=name)[0].pipeline_name == name
    assert SyncConfig(api_key=ApiKey(KEY), pipeline_name=name).pipeline_name == name


@pytest.mark.parametrize("name", ["../../x", "a.b", "a/b", "", " ", "CON", "com1"])
def test_a_pipeline_name_that_is_no_folder_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(pipeline_name=name)
    assert str(caught.value) == (
        "A setting has a problem: pipeline_name: must be 1 to 100 letters, digits, "
        "_ or -, and not a device name such as con (it names dlt's working folder), "
        "e.g. klaviyo. Fix it in the flags, KLAVIYO_* variables or the config file."
    )
    with pytest.raises(ValidationError):
        SyncConfig(api_key=ApiKey(KEY), pipeline_name=name)


def test_an_empty_dataset_is_a_settings_problem_everywhere() -> None:
    with pytest.raises(ConfigError, match="dataset: must not be empty; leave it unset"):
        load_settings(dataset=" ")
    with pytest.raises(ValidationError, match="leave it unset for klaviyo"):
        SyncConfig(api_key=ApiKey(KEY), dataset="")


def test_the_engine_settings_are_checked_like_the_others() -> None:
    settings, _ = load_settings(api_key=KEY)
    with pytest.raises(ConfigError) as caught:
        settings.sync_config(max_workers=0)
    assert str(caught.value) == (
        "A setting has a problem: max_workers: Input should be greater than or "
        "equal to 1. Fix it in the flags, KLAVIYO_* variables or the config file."
    )
