"""Settings: valid input loads with the documented defaults; bad input fails in one clear line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stripe_cio import (
    ConfigError,
    CustomerIOSettings,
    LedgerSettings,
    Settings,
    StripeSettings,
    customerio_settings_from_env,
    ledger_settings_from_env,
    stripe_settings_from_env,
)
from stripe_cio.ledger import Ledger

SECRET = "sk_test_51SecretSentinelValue0123456789"
CIO_SECRET = "cio-secret-sentinel-0123456789"


def full_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "STRIPE_API_KEY": SECRET,
        "CUSTOMERIO_SITE_ID": "site123",
        "CUSTOMERIO_API_KEY": CIO_SECRET,
        "STRIPE_CIO_DATA_DIR": str(tmp_path),
        "HOME": str(tmp_path),
    }
    env.update(overrides)
    return env


def assert_one_line_naming(error: ConfigError, setting: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{setting}:")
    assert f"set the environment variable {setting}" in message
    assert SECRET not in message
    assert CIO_SECRET not in message


def test_env_settings_load_with_documented_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env(full_env(tmp_path))

    assert settings.stripe is not None
    assert settings.stripe.api_base == "https://api.stripe.com"
    assert settings.stripe.account is None
    assert settings.stripe.livemode is False
    assert settings.stripe.effective_requests_per_second == 25
    assert settings.customerio is not None
    assert settings.customerio.region == "us"
    assert settings.customerio.base_url == "https://track.customer.io"
    assert settings.customerio.requests_per_second == 100
    assert settings.ledger.display_url == f"sqlite:///{tmp_path / 'ledger.db'}"


def test_live_keys_default_to_stripe_live_rate_limit() -> None:
    live = StripeSettings.load({"api_key": "rk_live_abcdef123456"})
    assert live.livemode is True
    assert live.effective_requests_per_second == 100
    configured = StripeSettings.load({"api_key": "sk_live_abcdef123456", "requests_per_second": 40})
    assert configured.effective_requests_per_second == 40


def test_eu_region_and_override_pick_the_track_url() -> None:
    eu = CustomerIOSettings.load({"site_id": "s", "api_key": "k" * 10, "region": " EU "})
    assert eu.base_url == "https://track-eu.customer.io"
    sandbox = CustomerIOSettings.load(
        {"site_id": "s", "api_key": "k" * 10, "track_url": "http://127.0.0.1:9000/"}
    )
    assert sandbox.base_url == "http://127.0.0.1:9000"


def test_connect_account_and_whitespace_are_normalised() -> None:
    settings = StripeSettings.load({"api_key": f"  {SECRET}\n", "account": " acct_1Abc "})
    assert settings.api_key.get_secret_value() == SECRET
    assert settings.account == "acct_1Abc"


@pytest.mark.parametrize(
    ("overrides", "setting", "fragment"),
    [
        ({"STRIPE_API_KEY": "pk_test_abcdef123"}, "STRIPE_API_KEY", "publishable key"),
        ({"STRIPE_API_KEY": "  "}, "STRIPE_API_KEY", "is empty"),
        ({"STRIPE_API_KEY": "sk_prod_abcdef"}, "STRIPE_API_KEY", "not a Stripe secret"),
        ({"STRIPE_API_BASE": "ftp://stripe.example"}, "STRIPE_API_BASE", "http(s) URL"),
        ({"STRIPE_API_BASE": "http://api.stripe.com"}, "STRIPE_API_BASE", "must use https"),
        ({"STRIPE_ACCOUNT": "cus_123"}, "STRIPE_ACCOUNT", "connected account id"),
        ({"STRIPE_REQUESTS_PER_SECOND": "fast"}, "STRIPE_REQUESTS_PER_SECOND", "valid number"),
        ({"STRIPE_REQUESTS_PER_SECOND": "-3"}, "STRIPE_REQUESTS_PER_SECOND", "between 0"),
        ({"CUSTOMERIO_SITE_ID": ""}, "CUSTOMERIO_SITE_ID", "is empty"),
        ({"CUSTOMERIO_SITE_ID": "a:b"}, "CUSTOMERIO_SITE_ID", "must not contain"),
        ({"CUSTOMERIO_API_KEY": ""}, "CUSTOMERIO_API_KEY", "is empty"),
        ({"CUSTOMERIO_REGION": "apac"}, "CUSTOMERIO_REGION", "'us' or 'eu'"),
        ({"CUSTOMERIO_TRACK_URL": "not a url"}, "CUSTOMERIO_TRACK_URL", "URL"),
        (
            {"STRIPE_CIO_DATABASE_URL": "::nonsense::"},
            "STRIPE_CIO_DATABASE_URL",
            "not a database URL",
        ),
        (
            {"STRIPE_CIO_DATABASE_URL": "mysql://u@h/db"},
            "STRIPE_CIO_DATABASE_URL",
            "SQLite and PostgreSQL",
        ),
        (
            {"STRIPE_CIO_DATABASE_URL": "postgresql://u@h"},
            "STRIPE_CIO_DATABASE_URL",
            "names no database",
        ),
    ],
)
def test_bad_setting_fails_in_one_line_naming_it(
    tmp_path: Path, overrides: dict[str, str], setting: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(full_env(tmp_path, **overrides))
    assert_one_line_naming(caught.value, setting)
    assert fragment in str(caught.value)
    assert caught.value.setting == setting


@pytest.mark.parametrize("missing", ["STRIPE_API_KEY", "CUSTOMERIO_SITE_ID", "CUSTOMERIO_API_KEY"])
def test_missing_required_setting_says_it_is_not_set(tmp_path: Path, missing: str) -> None:
    env = full_env(tmp_path)
    del env[missing]
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert_one_line_naming(caught.value, missing)
    assert "is not set" in str(caught.value)


def test_sections_not_asked_for_are_not_required(tmp_path: Path) -> None:
    env = {"STRIPE_CIO_DATA_DIR": str(tmp_path)}
    settings = Settings.from_env(env, stripe=False, customerio=False)
    assert settings.stripe is None
    assert settings.customerio is None


def test_section_loaders_read_only_their_variables(tmp_path: Path) -> None:
    env = full_env(tmp_path, CUSTOMERIO_REGION="eu", STRIPE_ACCOUNT="acct_9")
    assert stripe_settings_from_env(env).account == "acct_9"
    assert customerio_settings_from_env(env).region == "eu"


def test_sqlite_path_through_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create the ledger file"):
        ledger_settings_from_env({"STRIPE_CIO_DATABASE_URL": f"sqlite:///{blocker}/ledger.db"})


def test_sqlite_url_naming_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a readable and writable file"):
        ledger_settings_from_env({"STRIPE_CIO_DATABASE_URL": f"sqlite:///{tmp_path}"})


def test_postgres_urls_use_psycopg_and_hide_the_password() -> None:
    settings = LedgerSettings.load({"database_url": "postgres://app:hunter22@db:5432/ledger"})
    assert settings.database_url.get_secret_value().startswith("postgresql+psycopg://app:hunter22@")
    assert "hunter22" not in settings.display_url
    assert "hunter22" not in repr(settings)


def test_default_ledger_lives_under_xdg_data_home(tmp_path: Path) -> None:
    settings = ledger_settings_from_env({"XDG_DATA_HOME": str(tmp_path)})
    assert settings.display_url == f"sqlite:///{tmp_path / 'stripe-cio' / 'ledger.db'}"


def test_secrets_stay_out_of_repr_and_str(tmp_path: Path) -> None:
    settings = Settings.from_env(full_env(tmp_path))
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert SECRET not in text
        assert CIO_SECRET not in text


def test_settings_are_immutable(tmp_path: Path) -> None:
    settings = Settings.from_env(full_env(tmp_path))
    assert settings.stripe is not None
    with pytest.raises(ValueError, match="frozen"):
        settings.stripe.api_base = "https://elsewhere.example"  # type: ignore[misc]


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="is not a known setting"):
        StripeSettings.load({"api_key": SECRET, "apikey": "typo"})


# --- the data directory: created on first use, owner-only -------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_data_dir_is_created_owner_only_and_the_ledger_opens_in_it(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "new" / "stripe-cio"
    settings = ledger_settings_from_env({"STRIPE_CIO_DATA_DIR": str(data_dir)})

    assert mode(data_dir) == 0o700
    assert settings.data_dir == data_dir
    assert settings.display_url == f"sqlite:///{data_dir / 'ledger.db'}"
    with Ledger.open(settings) as ledger:
        assert ledger.count("charges") == 0
    assert (data_dir / "ledger.db").is_file()


def test_the_default_data_dir_is_created_under_xdg_data_home(tmp_path: Path) -> None:
    settings = ledger_settings_from_env({"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert settings.data_dir == tmp_path / "xdg" / "stripe-cio"
    assert mode(tmp_path / "xdg" / "stripe-cio") == 0o700


def test_a_data_dir_the_user_made_keeps_its_permissions(tmp_path: Path) -> None:
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    data_dir.chmod(0o750)
    ledger_settings_from_env({"STRIPE_CIO_DATA_DIR": str(data_dir)})
    assert mode(data_dir) == 0o750


@pytest.mark.parametrize("below", ["", "sub"])
def test_a_data_dir_through_a_file_names_stripe_cio_data_dir(tmp_path: Path, below: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError) as caught:
        ledger_settings_from_env({"STRIPE_CIO_DATA_DIR": str(blocker / below)})
    assert_one_line_naming(caught.value, "STRIPE_CIO_DATA_DIR")
    assert f"{blocker} is a file" in str(caught.value)


def test_an_unusable_default_data_dir_names_stripe_cio_data_dir(tmp_path: Path) -> None:
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(full_env(tmp_path, HOME=str(home)) | {"STRIPE_CIO_DATA_DIR": ""})
    assert_one_line_naming(caught.value, "STRIPE_CIO_DATA_DIR")


def test_a_data_dir_where_no_folder_can_be_made_names_stripe_cio_data_dir() -> None:
    # /proc takes no new folder, not even from root (the tests may run as root, for whom a
    # read-only mode bit is no obstacle).
    with pytest.raises(ConfigError) as caught:
        ledger_settings_from_env({"STRIPE_CIO_DATA_DIR": "/proc/stripe-cio-tests/data"})
    assert_one_line_naming(caught.value, "STRIPE_CIO_DATA_DIR")


def test_a_sqlite_url_gets_its_missing_folder_created(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "er"
    settings = ledger_settings_from_env({"STRIPE_CIO_DATABASE_URL": f"sqlite:///{folder}/l.db"})
    assert settings.data_dir is None
    assert mode(folder) == 0o700
    with Ledger.open(settings):
        assert (folder / "l.db").is_file()


def test_the_ledger_recreates_a_folder_removed_after_the_settings_loaded(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = ledger_settings_from_env({"STRIPE_CIO_DATA_DIR": str(data_dir)})
    data_dir.rmdir()
    with Ledger.open(settings):
        assert mode(data_dir) == 0o700


def test_the_ledger_refuses_a_folder_that_became_impossible(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = ledger_settings_from_env({"STRIPE_CIO_DATA_DIR": str(data_dir)})
    data_dir.rmdir()
    data_dir.write_text("now a file")
    with pytest.raises(ConfigError, match=r"STRIPE_CIO_DATA_DIR or STRIPE_CIO_DATABASE_URL") as e:
        Ledger.open(settings)
    assert "\n" not in str(e.value)


# --- `stripe-cio config` reports the location, or the one-line error ----------------------------


def config_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "CUSTOMERIO_"))}
    return subprocess.run(
        [sys.executable, "-m", "cli", "config"],
        env={**base, "COLUMNS": "250", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_config_creates_a_fresh_data_dir_and_shows_where_the_ledger_is(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    result = config_command(full_env(tmp_path, STRIPE_CIO_DATA_DIR=str(data_dir)))
    assert result.returncode == 0, result.stderr
    assert str(data_dir) in result.stdout
    assert f"sqlite:///{data_dir / 'ledger.db'}" in result.stdout
    assert mode(data_dir) == 0o700
    assert SECRET not in result.stdout + result.stderr
    assert CIO_SECRET not in result.stdout + result.stderr


def test_config_fails_in_one_line_naming_the_setting_when_the_folder_cannot_be_made(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = config_command(full_env(tmp_path, STRIPE_CIO_DATA_DIR=str(blocker / "stripe-cio")))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("configuration error: STRIPE_CIO_DATA_DIR: cannot create the folder")
    assert line.endswith("set the environment variable STRIPE_CIO_DATA_DIR")
    assert result.stdout == ""
    assert SECRET not in line
    assert CIO_SECRET not in line


def test_settings_name_the_database_url_when_it_placed_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = f"sqlite:///{blocker}/ledger/ledger.db"
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(full_env(tmp_path, STRIPE_CIO_DATABASE_URL=url))
    assert_one_line_naming(caught.value, "STRIPE_CIO_DATABASE_URL")
