"""Secrets at rest: owner-only files, encryption with a file key or the environment."""

from __future__ import annotations

import stat

import pytest

from klaviyo_connector.errors import ConfigError
from klaviyo_connector.service.crypto import (
    Vault,
    ensure_private_dir,
    read_or_create_secret,
)

KEY = "pk_" + "a1b2c3d4e5" * 3 + "wxyz"


def test_secret_file_is_owner_only_and_stable(tmp_path):
    path = tmp_path / "secret.key"
    first = read_or_create_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_or_create_secret(path) == first


def test_data_dir_is_private(tmp_path):
    ensure_private_dir(tmp_path / "data")
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


def test_vault_round_trip_hides_the_key(tmp_path):
    vault = Vault.open(tmp_path, None)
    token = vault.encrypt(KEY)
    assert KEY not in token
    assert vault.decrypt(token) == KEY


def test_environment_secret_replaces_the_file(tmp_path):
    token = Vault.open(tmp_path, "a passphrase from the environment").encrypt(KEY)
    assert not (tmp_path / "secret.key").exists()
    assert Vault("a passphrase from the environment").decrypt(token) == KEY


def test_wrong_secret_says_what_to_do(tmp_path):
    token = Vault("one").encrypt(KEY)
    with pytest.raises(ConfigError, match="KLAVIYO_CONNECTOR_SECRET"):
        Vault("another").decrypt(token)
