"""The ``NOAIGUARD`` setting, read into one Guard per distinct value.

Two forms, the second for projects that keep all configuration in ``settings.py``::

    NOAIGUARD = {"config": BASE_DIR / "noaiguard.yaml"}     # a YAML file
    NOAIGUARD = {"mode": "monitor", "store": {"url": "sqlite:///var/lib/site/noaiguard.db"}}

No setting means the built-in defaults. The guard is shared by every middleware instance, the
system checks and the management command of the process (Django makes a new middleware chain
for each test client, and a guard owns a writer thread and an event queue).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from ...config import Config, config_from_mapping, load_config
from ...errors import ConfigError, ConfigIssue
from ...guard import Guard

SETTING = "NOAIGUARD"
_SOURCE = f"settings.{SETTING}"
#: The key of ConfigIssues about the setting's own shape (system check noaiguard.E001).
SETTING_KEY = "(setting)"

_guards: dict[str, Guard] = {}
_lock = threading.Lock()


def setting() -> Any:
    from django.conf import settings

    return getattr(settings, SETTING, None)


def config_from_settings() -> Config:
    """The Config the ``NOAIGUARD`` setting describes; ConfigError lists what is wrong with it."""
    value = setting()
    if value is None:
        return Config()
    if not isinstance(value, Mapping):
        raise _setting_error(
            f"must be a mapping, not {type(value).__name__}: {{'config': 'path/to/file.yaml'}} "
            "or the keys of a config file"
        )
    if "config" not in value:
        return config_from_mapping(value, _SOURCE)
    path = value["config"]
    if len(value) > 1:
        others = ", ".join(sorted(str(k) for k in value if k != "config"))
        raise _setting_error(
            f"'config' names a file, so the other keys ({others}) belong in that file"
        )
    if not isinstance(path, str | os.PathLike):
        raise _setting_error(f"'config' must be a path, not {type(path).__name__}")
    return load_config(os.fspath(path))


def get_guard() -> Guard:
    """The guard for the current ``NOAIGUARD`` setting (made on first use; raises ConfigError)."""
    key = repr(setting())
    guard = _guards.get(key)
    if guard is None:
        with _lock:
            guard = _guards.get(key)
            if guard is None:
                guard = _guards[key] = Guard(config_from_settings())
    return guard


def _setting_error(message: str) -> ConfigError:
    return ConfigError([ConfigIssue(_SOURCE, 0, 0, SETTING_KEY, message)])
