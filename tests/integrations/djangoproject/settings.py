"""A small Django project for the integration tests: the contract's site as views."""

from __future__ import annotations

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.integrations.djangoproject.urls"
INSTALLED_APPS = ["noaiguard.integrations.django"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "noaiguard.integrations.django.NoAIGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
]
DATABASES: dict[str, object] = {}
USE_TZ = True
# The tests give each case a store of its own (an SQLite file under tmp_path).
NOAIGUARD = {"store": {"url": "memory:"}, "agents": {"verify": False}}
ASGI_APPLICATION = "tests.integrations.djangoproject.asgi.application"
