"""Settings of the smallest Django site that noaiguard guards."""

from __future__ import annotations

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "example-only-change-me"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS = ["noaiguard.integrations.django"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "noaiguard.integrations.django.NoAIGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
]
DATABASES: dict[str, object] = {}
NOAIGUARD = {"config": BASE_DIR / "noaiguard.yaml"}
