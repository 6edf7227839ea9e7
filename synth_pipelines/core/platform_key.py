"""The platform key: a secret that never leaves the machine the pipeline runs on.

Anything published that is derived from real rows by a hash is keyed with it (HMAC-SHA256): the
snapshot fingerprints in the manifest, and under differential privacy the train/holdout assignment
of each entity key. An unkeyed hash of the source lets anyone who knows every row but one confirm a
guess of the missing row offline; an HMAC with an unknown key does not.

The key is 32 random bytes (`secrets`) in a file created on first use with mode 0600, by default
`~/.synth_pipelines/platform.key`; `SYNTH_PIPELINES_PLATFORM_KEY_FILE` names another file (a mounted
secret in production). A file readable by others is refused. Losing the key only means fingerprints
of new releases cannot be compared with old ones, and a DP dataset's split changes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

import numpy as np

KEY_FILE_ENV = "SYNTH_PIPELINES_PLATFORM_KEY_FILE"
KEY_BYTES = 32
KEYED_PREFIX = "hmac-sha256:"


class PlatformKeyError(RuntimeError):
    pass


def key_path() -> Path:
    configured = os.environ.get(KEY_FILE_ENV)
    return Path(configured) if configured else Path.home() / ".synth_pipelines" / "platform.key"


def platform_key() -> bytes:
    """The key, created (0600, never overwritten) when the file does not exist yet."""
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it meanwhile: use theirs
            pass
        else:
            with os.fdopen(handle, "wb") as out:
                out.write(secrets.token_bytes(KEY_BYTES))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PlatformKeyError(f"platform key {path} is readable by others (mode {mode:o}); "
                               f"Fix: chmod 600 {path}")
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise PlatformKeyError(f"platform key {path} holds {len(key)} bytes, at least {KEY_BYTES} are needed; "
                               f"Fix: remove it (a new one is created) or write {KEY_BYTES} random bytes")
    return key


def keyed_fingerprint(value: str, purpose: str) -> str:
    """HMAC-SHA256 of `value` under the platform key, domain-separated by `purpose`."""
    digest = hmac.new(platform_key(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return KEYED_PREFIX + digest


def keyed_uniforms(values: Iterable[object], purpose: str) -> np.ndarray:
    """One number in [0, 1) per value, from its HMAC: the same value always gets the same number,
    and without the key nobody can tell which number a value gets."""
    key = platform_key()
    prefix = f"{purpose}\x00".encode()
    out = [int.from_bytes(hmac.new(key, prefix + str(v).encode(), hashlib.sha256).digest()[:8], "big")
           for v in values]
    return np.asarray(out, dtype=np.float64) / 2.0**64
