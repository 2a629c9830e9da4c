"""`manage.py rotatekey`: re-encrypt stored credentials from an old key to the current one."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from routing.models import ConfigVersion, Credential, Provider

OLD_KEY = Fernet.generate_key()


@pytest.fixture
def old_key_file(tmp_path) -> Path:
    path = tmp_path / "old.key"
    path.write_text(OLD_KEY.decode() + "\n")
    return path


@pytest.fixture
def provider(db) -> Provider:
    return Provider.objects.get(name="anthropic")


def stored_with(key: bytes, provider: Provider, label: str, secret: str) -> Credential:
    return Credential.objects.create(
        provider=provider,
        label=label,
        encrypted_secret=Fernet(key).encrypt(secret.encode()).decode(),
    )


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotatekey", *args, stdout=out)
    return out.getvalue()


def test_it_re_encrypts_credentials_from_the_old_key_to_the_current_one(provider, old_key_file):
    stored_with(OLD_KEY, provider, "team-a", "sk-ant-a")
    stored_with(OLD_KEY, provider, "team-b", "sk-ant-b")
    with pytest.raises(ValueError):
        Credential.objects.get(label="team-a").secret()

    out = rotate("--old-key-file", str(old_key_file))

    assert "re-encrypted 2 credential(s); 0 already used the current key" in out
    assert Credential.objects.get(label="team-a").secret() == "sk-ant-a"
    assert Credential.objects.get(label="team-b").secret() == "sk-ant-b"
    token = Credential.objects.get(label="team-a").encrypted_secret
    with pytest.raises(Exception):  # noqa: B017 - the old key no longer reads it
        Fernet(OLD_KEY).decrypt(token.encode())


def test_it_leaves_credentials_already_on_the_current_key_alone(provider, old_key_file):
    current = Credential(provider=provider, label="new")
    current.set_secret("sk-ant-new")
    current.save()
    stored_with(OLD_KEY, provider, "old", "sk-ant-old")

    out = rotate("--old-key-file", str(old_key_file))
    again = rotate("--old-key-file", str(old_key_file))

    assert Credential.objects.get(label="new").encrypted_secret == current.encrypted_secret
    assert "re-encrypted 1 credential(s); 1 already used the current key" in out
    assert "re-encrypted 0 credential(s); 2 already used the current key" in again


def test_it_changes_nothing_when_one_credential_reads_with_neither_key(provider, old_key_file):
    readable = stored_with(OLD_KEY, provider, "good", "sk-ant-good")
    stored_with(Fernet.generate_key(), provider, "lost", "sk-ant-lost")

    with pytest.raises(CommandError, match="anthropic/lost") as raised:
        rotate("--old-key-file", str(old_key_file))

    assert "sk-ant" not in str(raised.value)
    assert Credential.objects.get(label="good").encrypted_secret == readable.encrypted_secret


def test_a_dry_run_writes_nothing(provider, old_key_file):
    old = stored_with(OLD_KEY, provider, "team-a", "sk-ant-a")

    out = rotate("--old-key-file", str(old_key_file), "--dry-run")

    assert "would re-encrypt 1 credential(s)" in out
    assert Credential.objects.get(label="team-a").encrypted_secret == old.encrypted_secret


def test_it_does_not_make_running_workers_reload(provider, old_key_file):
    """Workers keep the credentials they decrypted with the old key until they restart."""
    stored_with(OLD_KEY, provider, "team-a", "sk-ant-a")
    before = list(ConfigVersion.objects.values_list("version", flat=True))

    rotate("--old-key-file", str(old_key_file))

    assert list(ConfigVersion.objects.values_list("version", flat=True)) == before


@pytest.mark.parametrize(
    ("content", "message"), [(None, "cannot read"), ("not-a-key", "not a Fernet key")]
)
def test_it_refuses_an_unusable_old_key_file(db, tmp_path, content, message):
    path = tmp_path / "old.key"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CommandError, match=message):
        rotate("--old-key-file", str(path))
