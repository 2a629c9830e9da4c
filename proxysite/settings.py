"""Settings, read from the environment with safe defaults.

Every SWITCHBOARD_* variable is listed in the README's configuration table.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from proxysite import private_files
from proxysite.env import (
    envbool,
    envfloat,
    envint,
    envlist,
    envsecret,
    envstr,
    secret_from_file_or_new,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Where state lives -------------------------------------------------------
DATA_DIR = Path(envstr("SWITCHBOARD_DATA_DIR", str(BASE_DIR / "data"))).resolve()
# It holds every logged prompt and the keys: only the gateway's user may enter it
# (0700; its files 0600), and looser modes left by older versions are tightened.
private_files.ensure_private_dir(DATA_DIR)
# (the log writer's spill file: requestlog.writer.SPILL_FILE_NAME)
private_files.tighten_files([DATA_DIR / "unwritten-log-rows.jsonl"])

# --- Core Django -------------------------------------------------------------
DEBUG = envbool("SWITCHBOARD_DEBUG", False)
SECRET_KEY = secret_from_file_or_new(
    "SWITCHBOARD_SECRET_KEY", DATA_DIR / "secret_key", lambda: secrets.token_urlsafe(50)
)
# Host names clients may use. Loopback only by default, so a web page cannot reach
# a local gateway through DNS rebinding; the gateway paths check it too
# (gateway/host_check.py), although they skip Django's middleware.
ALLOWED_HOSTS = envlist("SWITCHBOARD_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# Origins (scheme://host[:port]) whose pages may open the dashboard's websocket,
# besides the site's own origin (that of the Host header).
SWITCHBOARD_ALLOWED_ORIGINS = envlist("SWITCHBOARD_ALLOWED_ORIGINS", [])
CSRF_TRUSTED_ORIGINS = envlist("SWITCHBOARD_CSRF_TRUSTED_ORIGINS", [])

# --- HTTPS, behind a TLS-terminating proxy -------------------------------------
# SWITCHBOARD_HTTPS=1: the site is only reached over HTTPS, through a proxy that
# sets X-Forwarded-Proto (overwriting what the client sent). Secure cookies,
# HSTS and a redirect to HTTPS for the admin, dashboard and API; the gateway
# paths (/v1/*, probes) skip middleware and are never redirected.
SWITCHBOARD_HTTPS = envbool("SWITCHBOARD_HTTPS", False)
if SWITCHBOARD_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SWITCHBOARD_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Only makes the domain eligible: browsers preload it once it is submitted to
    # hstspreload.org, which is the operator's choice.
    SECURE_HSTS_PRELOAD = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, pinned by the package version
    "routing",
    "requestlog",
    "gateway",
]

# The /v1/* gateway endpoints skip this stack entirely (see proxysite/asgi.py):
# these are for the admin and the dashboard.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "proxysite.content_security.SwitchboardCSPMiddleware",
]

ROOT_URLCONF = "proxysite.urls"
ASGI_APPLICATION = "proxysite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------
# DATABASE_URL (PostgreSQL for scale-out) or a SQLite file in the data dir.
_database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'switchboard.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=600)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the log writer, the admin and other workers read while one writes.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests use a file so a real Daphne process can share the test database; one
    # per test run, so that two runs in one checkout do not clobber each other.
    DATABASES["default"]["TEST"] = {
        "NAME": str(DATA_DIR / f"test-switchboard-{os.getpid()}.sqlite3")
    }
    # Created here with mode 0600, before Django connects (SQLite gives the -wal and
    # -shm files the database's mode); an existing one is tightened.
    _sqlite_path = Path(DATABASES["default"]["NAME"])
    if str(_sqlite_path) != ":memory:":
        _sqlite_path.parent.mkdir(mode=private_files.PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        private_files.create_private_file(_sqlite_path)
        private_files.tighten_files(private_files.sqlite_files(_sqlite_path))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels ----------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Names of the gateway's Redis keys and channel start with this (several
# gateways may share one Redis).
SWITCHBOARD_REDIS_PREFIX = envstr("SWITCHBOARD_REDIS_PREFIX", "switchboard")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Auth, i18n, static --------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

# The gateway enforces its own body cap (SWITCHBOARD_MAX_BODY_BYTES); Django's
# 2.5 MB default would refuse ordinary Claude Code requests with images.
DATA_UPLOAD_MAX_MEMORY_SIZE = None

# --- Gateway -----------------------------------------------------------------
# Keys clients must send to use /v1/* (comma-separated); unset = open gateway.
SWITCHBOARD_API_KEYS = [
    key.strip() for key in (envsecret("SWITCHBOARD_API_KEYS") or "").split(",") if key.strip()
]
# Bearer token that /metrics requires, and that shows /readyz's details; unset =
# only loopback clients that did not come through a proxy get them.
SWITCHBOARD_METRICS_TOKEN = envsecret("SWITCHBOARD_METRICS_TOKEN") or ""
# Upstream used for the `anthropic` provider created on first start.
SWITCHBOARD_UPSTREAM_URL = envstr("SWITCHBOARD_UPSTREAM_URL", "https://api.anthropic.com")
# Largest request body accepted on /v1/* (Anthropic's own limit is 32 MB).
SWITCHBOARD_MAX_BODY_BYTES = envint("SWITCHBOARD_MAX_BODY_BYTES", 32 * 1024 * 1024, minimum=1024)
# `manage.py serve`: seconds requests in flight may take to finish after SIGTERM
# or SIGINT before they are ended (event: error / 503) and the process exits.
SWITCHBOARD_DRAIN_SECONDS = envfloat("SWITCHBOARD_DRAIN_SECONDS", 30.0, minimum=0)
# `manage.py serve`: seconds a client has to send a request's complete headers
# (slowloris), and seconds a connection may stay silent between requests.
SWITCHBOARD_HEADER_TIMEOUT_SECONDS = envfloat(
    "SWITCHBOARD_HEADER_TIMEOUT_SECONDS", 15.0, minimum=0.1
)
SWITCHBOARD_IDLE_TIMEOUT_SECONDS = envfloat("SWITCHBOARD_IDLE_TIMEOUT_SECONDS", 60.0, minimum=0.1)
# Upstream timeouts (seconds) used when a provider row does not set its own.
SWITCHBOARD_CONNECT_TIMEOUT = envfloat("SWITCHBOARD_CONNECT_TIMEOUT", 10.0, minimum=0.1)
SWITCHBOARD_READ_TIMEOUT = envfloat("SWITCHBOARD_READ_TIMEOUT", 600.0, minimum=0.1)
# Upstream HTTP client: aiohttp (default, fastest measured) or httpx.
SWITCHBOARD_HTTP_CLIENT = envstr("SWITCHBOARD_HTTP_CLIENT", "aiohttp")
if SWITCHBOARD_HTTP_CLIENT not in ("aiohttp", "httpx"):
    raise ImproperlyConfigured("SWITCHBOARD_HTTP_CLIENT must be aiohttp or httpx")
# Pooled upstream connections per worker.
SWITCHBOARD_MAX_CONNECTIONS = envint("SWITCHBOARD_MAX_CONNECTIONS", 512, minimum=1)
# Seconds a request may wait for a free pooled connection before a 529.
SWITCHBOARD_POOL_TIMEOUT = envfloat("SWITCHBOARD_POOL_TIMEOUT", 30.0, minimum=0.1)
# Model names (globs) that mark a background request, for rules with the
# "background" condition. Claude Code's own small-fast-model settings count too.
SWITCHBOARD_BACKGROUND_MODELS = envlist("SWITCHBOARD_BACKGROUND_MODELS", ["*haiku*"]) + [
    name
    for name in (
        os.environ.get("ANTHROPIC_SMALL_FAST_MODEL", ""),
        os.environ.get("ANTHROPIC_DEFAULT_HAIKU_MODEL", ""),
    )
    if name
]
# Where Claude Code subagent definitions (*.md) are discovered: os.pathsep-separated
# directories; unset = ./.claude/agents then ~/.claude/agents.
SWITCHBOARD_AGENT_DIRS = os.environ.get("SWITCHBOARD_AGENT_DIRS", "")
# How often the agent directories are rescanned (seconds); 0 turns discovery off.
SWITCHBOARD_AGENT_SCAN_SECONDS = envfloat("SWITCHBOARD_AGENT_SCAN_SECONDS", 2.0, minimum=0)
# How often each worker checks whether another process changed the routing config.
SWITCHBOARD_CONFIG_POLL_SECONDS = envfloat("SWITCHBOARD_CONFIG_POLL_SECONDS", 1.0, minimum=0.05)

# --- Request log ---------------------------------------------------------------
# Log rows are written in batches by a background thread: at most this many ms
# after a request ends, or as soon as this many rows are waiting.
SWITCHBOARD_LOG_FLUSH_MS = envint("SWITCHBOARD_LOG_FLUSH_MS", 500, minimum=10)
SWITCHBOARD_LOG_BATCH_SIZE = envint("SWITCHBOARD_LOG_BATCH_SIZE", 200, minimum=1)
# Rows waiting for the writer (the database stalls); past this many, new rows
# go to DATA_DIR/unwritten-log-rows.jsonl for `manage.py replaylogs`.
SWITCHBOARD_LOG_QUEUE_MAX = envint("SWITCHBOARD_LOG_QUEUE_MAX", 50_000, minimum=1)
# Request and response bodies longer than this are cut, with a marker.
SWITCHBOARD_LOG_BODY_MAX_BYTES = envint("SWITCHBOARD_LOG_BODY_MAX_BYTES", 256 * 1024, minimum=0)
# Store request/response bodies at all.
SWITCHBOARD_LOG_BODIES = envbool("SWITCHBOARD_LOG_BODIES", True)

# --- Secrets at rest ---------------------------------------------------------
# Fernet key that encrypts stored provider credentials.
SWITCHBOARD_ENCRYPTION_KEY = secret_from_file_or_new(
    "SWITCHBOARD_ENCRYPTION_KEY",
    DATA_DIR / "encryption_key",
    lambda: Fernet.generate_key().decode(),
)
if len(SWITCHBOARD_ENCRYPTION_KEY) != 44:
    raise ImproperlyConfigured(
        "SWITCHBOARD_ENCRYPTION_KEY must be a Fernet key (44 url-safe base64 characters); "
        "make one with: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'"
    )

# --- REST API ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so a bad token gets 401 (with WWW-Authenticate), not 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Staff with a permission of the API's apps: the /api/ root page. Every view
    # with data names its own permission (requestlog.api, routing.api).
    "DEFAULT_PERMISSION_CLASSES": ["requestlog.api.permissions.UsesTheApi"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Request log, conversations, statistics and routing configuration.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["requestlog.api.permissions.UsesTheApi"],
    # Swagger UI from the drf-spectacular-sidecar package, served by us: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Content Security Policy (django-csp) ---------------------------------------
# Dashboard, admin and API pages run only scripts from our own origin: no
# inline script, no eval, no CDN; the same for styles, except that the admin
# and the API pages may use inline styles (proxysite/content_security.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
LOGIN_URL = "/admin/login/"
# Days of request log kept by `manage.py prunelogs` (0 keeps everything).
SWITCHBOARD_LOG_RETENTION_DAYS = envint("SWITCHBOARD_LOG_RETENTION_DAYS", 30, minimum=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("SWITCHBOARD_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # httpx logs every request URL at INFO; a provider URL may carry a key.
        "httpx": {"level": "WARNING"},
    },
}
