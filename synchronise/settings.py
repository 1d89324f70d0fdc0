"""The one settings module. Everything that differs between machines is an environment variable.

Defaults need no server: SQLite in WAL mode, local-memory cache, database sessions and an
embedded Redis (see ``synchronise/lib/embedded_redis.py``) for the Celery broker and the
channel layer. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and a real Redis.
Every variable is documented in README.md.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from synchronise.lib.env import env_bool, env_choice, env_float, env_int, env_list, env_str

# Lets `ModelAdmin[Model]`, `QuerySet[Model]` and friends be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("SYNCHRONISE_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("SYNCHRONISE_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("SECRET_KEY must be set")
    # A stable local key so sessions survive restarts of the embedded platform.
    SECRET_KEY = "insecure-local-only-" + str(DATA_DIR)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")


def _site_url() -> str:
    """Where people reach the platform, for links in emails: ``SITE_URL``, else the address
    ``make run`` listens on (``HOST``/``PORT``, as ``synchronise/run.py`` reads them); a host that
    means "every interface" is reached as ``localhost`` (docs/accounts.md)."""
    explicit = env_str("SITE_URL")
    if explicit:
        return explicit.rstrip("/")
    host = env_str("HOST", "127.0.0.1")
    host = "localhost" if host in ("0.0.0.0", "::", "[::]", "") else host  # noqa: S104  # a name, not a bind
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    port = env_int("PORT", 8000)
    return f"http://{host}" + ("" if port == 80 else f":{port}")


SITE_URL = _site_url()
SITE_NAME = env_str("SITE_NAME", "Synchronise")  # in emails and allauth pages, instead of the Site row's
SITE_ID = 1

INSTALLED_APPS = [
    "daphne",  # must precede staticfiles: `runserver` then serves ASGI
    "superadmin.apps.SuperadminSiteConfig",  # django.contrib.admin with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.sitemaps",  # /sitemap.xml of the public marketplace pages
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, not a CDN
    "channels",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "accounts",
    "realtime",
    "components",
    "workflows",
    "superadmin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # ServeStatic (a maintained fork of WhiteNoise) is async-capable: with every middleware
    # async-capable, async views (the webhook) never hold a thread while they wait.
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Dates in the viewer's time zone, from the browser (accounts/timezones.py, docs/ui.md).
    "accounts.timezones.TimeZoneMiddleware",
    # Innermost, so it sees a view's exception first: PostgreSQL or Redis down answers 503 with
    # Retry-After instead of 500 (synchronise/outages.py, docs/failure-model.md).
    "synchronise.outages.OutageMiddleware",
    # An error a DRF view answers itself, in the API's one error shape (synchronise/errors.py).
    "synchronise.errors.ApiErrorMiddleware",
]

ROOT_URLCONF = "synchronise.urls"
ASGI_APPLICATION = "synchronise.asgi.application"
WSGI_APPLICATION = None

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
                "accounts.context_processors.plan",
            ],
            # |when (dates), |thousands…: used on most pages, so no {% load ui %} is needed.
            "builtins": ["accounts.templatetags.ui"],
        },
    },
]

# --- Database -----------------------------------------------------------------------------

# Without DATABASE_URL: a SQLite file in the data directory.
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0))
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets the web server and the workers read while one writes; IMMEDIATE
        # transactions take the write lock up front instead of failing mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not :memory:, so the ASGI servers and workers started by tests share it.
    _db["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", str(DATA_DIR / "test.sqlite3"))}
else:
    # An explicit name keeps the servers and workers started by tests on the same database.
    _db["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", f"test_{_db['NAME']}")}
    if not _db["CONN_MAX_AGE"] and env_int("DATABASE_POOL_SIZE", 8) > 0:
        # ASGI runs each request's database work on a thread of its own, so Django's persistent
        # connections would pile up per thread: the web keeps a psycopg pool instead. Celery
        # worker processes swap it for one persistent connection (synchronise/celery.py).
        # `timeout`: how long a request waits for a connection, also when PostgreSQL is down (then 503).
        _pool = {
            "min_size": 1,
            "max_size": env_int("DATABASE_POOL_SIZE", 8),
            "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0),
        }
        _db["OPTIONS"] = {"pool": _pool}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, sessions, channel layer, broker ----------------------------------------

REDIS_URL = env_str("REDIS_URL")
EMBEDDED_REDIS_SOCKET = DATA_DIR / "redis.sock"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "synchronise"),
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    SESSION_ENGINE = "synchronise.sessions"  # Django's cache sessions; Redis down is a 503, not a sign-out
    _channel_address = REDIS_URL
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
    _channel_address = f"unix://{EMBEDDED_REDIS_SOCKET}"
    CELERY_BROKER_URL = f"redis+socket://{EMBEDDED_REDIS_SOCKET}"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 defaults (100 connections, 5 s read timeout) break idle consumers
            # and bursts of handshakes; see docs/realtime.md, "The channel layer's Redis connections".
            "hosts": [{"address": _channel_address, "socket_timeout": None, "max_connections": 1000}],
            "capacity": env_int("CHANNEL_LAYER_CAPACITY", 1000),
            "prefix": env_str("CHANNEL_LAYER_PREFIX", "synchronise"),
        },
    }
}

# --- Celery -------------------------------------------------------------------------------

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Celery closes the database connection around every task unless told to reuse it; workers keep
# theirs (synchronise/celery.py checks it between tasks instead).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
if env_str("CELERY_KEY_PREFIX"):  # installations (or test runs) sharing one Redis keep their queues apart
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env_str("CELERY_KEY_PREFIX")
CELERY_TIMEZONE = "UTC"
# Two queues, both consumed by every worker started without -Q: steps and other work on
# "celery"; the engine's repair loop (workflows.tick) alone on "repairs", so it runs within about
# one step's time of being sent however long the step backlog is (Redis hands a worker the queues
# in turn, the one it did not just take from first). docs/failure-model.md.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue("celery", Exchange("celery"), routing_key="celery"),
    Queue("repairs", Exchange("repairs"), routing_key="repairs"),
]
CELERY_TASK_ROUTES = {"workflows.tick": {"queue": "repairs"}}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # The workflow engine's repairs: lost workers, due retries, timeouts, queued executions.
    "workflows.tick": {"task": "workflows.tick", "schedule": env_float("WORKFLOW_TICK_SECONDS", 1.0)},
    "workflows.prune": {"task": "workflows.prune", "schedule": 3600.0},
}

# --- Workflows ----------------------------------------------------------------------------

# A step's lease is its timeout plus this grace; a lease that expires means its worker was lost.
WORKFLOW_LEASE_GRACE_SECONDS = env_float("WORKFLOW_LEASE_GRACE_SECONDS", 10.0)
# A queued step run no worker has taken for this long is sent again (its message may be lost).
WORKFLOW_RESEND_SECONDS = env_float("WORKFLOW_RESEND_SECONDS", 30.0)

# --- Auth and accounts --------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Dotted paths, strongest first; Django's defaults unless set (the test suite sets a fast one).
PASSWORD_HASHERS = env_list(
    "PASSWORD_HASHERS",
    [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "landing"

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_choice("ACCOUNT_EMAIL_VERIFICATION", ("none", "optional", "mandatory"), "optional")
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "  # allauth would name the Site row (example.com)
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# allauth's own defaults, restated so they are visible and tunable: failed logins per
# IP and per account, signups and password resets are throttled through the cache.
ACCOUNT_RATE_LIMITS = {
    "login": env_str("LOGIN_RATE_LIMIT_IP", "30/m/ip"),
    "login_failed": env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "signup": env_str("SIGNUP_RATE_LIMIT", "20/m/ip"),
    "reset_password": "20/m/ip,5/m/key",
}
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_LOGIN_ON_GET = False


def _social_providers() -> tuple[list[str], dict[str, dict[str, object]]]:
    """Providers whose client id and secret are set in the environment; nothing else is enabled."""
    apps: list[str] = []
    providers: dict[str, dict[str, object]] = {}
    for provider, prefix, scope in (
        ("github", "GITHUB", ["user:email"]),
        ("google", "GOOGLE", ["profile", "email"]),
        ("facebook", "FACEBOOK", ["email"]),
        ("gitlab", "GITLAB", ["read_user"]),
    ):
        client_id, secret = env_str(f"{prefix}_CLIENT_ID"), env_str(f"{prefix}_CLIENT_SECRET")
        if client_id and secret:
            apps.append(f"allauth.socialaccount.providers.{provider}")
            providers[provider] = {
                "APPS": [{"client_id": client_id, "secret": secret}],
                "SCOPE": scope,
            }
    oidc_id, oidc_secret = env_str("OIDC_CLIENT_ID"), env_str("OIDC_CLIENT_SECRET")
    if oidc_id and oidc_secret:
        server_url = env_str("OIDC_SERVER_URL")
        if not server_url:
            raise ImproperlyConfigured("OIDC_SERVER_URL must be set with OIDC_CLIENT_ID")
        apps.append("allauth.socialaccount.providers.openid_connect")
        providers["openid_connect"] = {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": env_str("OIDC_PROVIDER_ID", "oidc"),
                    "name": env_str("OIDC_NAME", "OpenID Connect"),
                    "client_id": oidc_id,
                    "secret": oidc_secret,
                    "settings": {"server_url": server_url},
                }
            ],
        }
    return apps, providers


_social_apps, SOCIALACCOUNT_PROVIDERS = _social_providers()
INSTALLED_APPS += _social_apps

# --- Plans --------------------------------------------------------------------------------

FREE_PLAN_MONTHLY_QUOTA = env_int("FREE_PLAN_MONTHLY_QUOTA", 10_000)
API_KEY_RATE_LIMIT = env_str("API_KEY_RATE_LIMIT", "600/min")

# --- API ----------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.SecretKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiKeyRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "synchronise.lib.queryparams.Pagination",  # bounded limit/offset: 400, not 500
    "PAGE_SIZE": 50,
    # A body nested deeper than jsonlimits.MAX_DEPTH is refused before parsing; an answer carrying
    # text UTF-8 cannot encode (a lone surrogate already stored) is sent with U+FFFD instead of a 500.
    "DEFAULT_PARSER_CLASSES": [
        "synchronise.lib.jsonlimits.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "synchronise.lib.jsonlimits.SafeJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # Every API error as {code, message, …details}, outages as 503 (synchronise/errors.py, docs/errors.md).
    "EXCEPTION_HANDLER": "synchronise.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Synchronise API",
    "DESCRIPTION": "Turn web APIs into typed components and chain them into workflows.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ComponentKindEnum": "components.models.Kind",
        "ApiKeyKindEnum": "accounts.models.ApiKeyKind",
        "ExecutionStatusEnum": "components.models.Status",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # drf-spectacular's own hook, then the API's error shape on every operation (synchronise/errors_schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "synchronise.errors_schema.document_errors",
    ],
}

# --- CORS: publishable keys on customers' sites --------------------------------------------
# Only what a publishable key may call answers other origins: the run endpoints and the reads of
# an execution that static/synchronise.js follows (getWorkflowExecution is its HTTP fallback when
# the socket is not open; no other cloud function). A preflight carries no key, so it is answered
# for any origin (it grants nothing); the response itself is opened to the page's origin only when
# the request was authenticated by a publishable key whose allow-list has that origin
# (accounts/cors.py, through django-cors-headers' `check_request_enabled` signal). No cookies
# cross: secret keys and sessions gain nothing from another origin. See docs/accounts.md.
INSTALLED_APPS.append("accounts.cors.CorsHeadersConfig")  # django-cors-headers, with our receiver
# First: it answers preflights itself, before any middleware could redirect or refuse them.
MIDDLEWARE.insert(0, "corsheaders.middleware.CorsMiddleware")
CORS_URLS_REGEX = (
    r"^/(?:api/v1/(?:components|workflows)/\d+/run|component/run|workflow/run"
    r"|api/v1/(?:executions|workflow-executions)/\d+/|api/v1/cloud/getWorkflowExecution)$"
)
CORS_ALLOWED_ORIGINS: list[str] = []  # none for everyone: each publishable key has its own list
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ("content-type", "x-synchronise-public-key")
CORS_ALLOW_METHODS = ("GET", "POST")
CORS_PREFLIGHT_MAX_AGE = 3600

# --- Email --------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Synchronise <noreply@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    # Without a mail server, messages are written as files a developer can open.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "mail"

# --- Static, i18n, security ---------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # ServeStatic warns when it is missing; `collectstatic` fills it
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedStaticFilesStorage"},
}
SERVESTATIC_USE_FINDERS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Outbound HTTP and credentials --------------------------------------------------------
# See docs/credentials-and-http.md. Every request made on a user's behalf goes through
# synchronise/lib/outbound.py, which refuses private, loopback and reserved destinations.

# `host:port` pairs exempt from the address check (an internal API you mean to reach; the test
# suite's loopback servers). Empty in production unless you know why.
OUTBOUND_ALLOW = env_list("OUTBOUND_ALLOW")
OUTBOUND_TIMEOUT = env_int("OUTBOUND_TIMEOUT", 20)  # seconds for a whole request, redirects included
OUTBOUND_CONNECT_TIMEOUT = env_int("OUTBOUND_CONNECT_TIMEOUT", 5)  # seconds to resolve and connect
OUTBOUND_MAX_BYTES = env_int("OUTBOUND_MAX_BYTES", 10 * 1024 * 1024)  # largest (decoded) response body
OUTBOUND_MAX_REDIRECTS = env_int("OUTBOUND_MAX_REDIRECTS", 5)  # 0: a 3xx is returned as it is
OUTBOUND_CA_BUNDLE = env_str("OUTBOUND_CA_BUNDLE")  # a PEM file of trusted CAs; empty: certifi's bundle
# Tests only, never from the environment: an official connector's base URL ("https://api.github.com")
# → a loopback stand-in ("http://127.0.0.1:8123"), rewritten when a connector is installed.
CONNECTOR_BASE_URLS: dict[str, str] = {}

# Comma-separated `keyid:base64-of-32-bytes`, the first encrypts, all decrypt. Unset: a key kept
# in DATA_DIR/credentials.key (fine for one machine; set this in production).
CREDENTIALS_KEYS = env_list("CREDENTIALS_KEYS")


def _oauth2_clients() -> dict[str, tuple[str, str]]:
    """``OAUTH_<PROVIDER>_CLIENT_ID`` / ``_CLIENT_SECRET`` pairs by provider slug (``OAUTH_GITHUB_…`` →
    ``github``), for OAuth2 credentials (docs/oauth2.md); they win over an OAuth2 app in superadmin."""
    import os
    import re

    clients: dict[str, tuple[str, str]] = {}
    for variable in sorted(os.environ):
        match = re.fullmatch(r"OAUTH_([A-Z0-9_]+)_CLIENT_ID", variable)
        if not match or not env_str(variable):
            continue
        secret = env_str(f"OAUTH_{match.group(1)}_CLIENT_SECRET")
        if not secret:
            raise ImproperlyConfigured(f"{variable} is set: set OAUTH_{match.group(1)}_CLIENT_SECRET too")
        clients[match.group(1).lower()] = (env_str(variable), secret)
    return clients


OAUTH2_CLIENTS = _oauth2_clients()
OAUTH_MICROSOFT_TENANT = env_str("OAUTH_MICROSOFT_TENANT", "common")
# Tests only, never from the environment: a built-in provider's endpoints
# ({"github": {"authorize_url": …, "token_url": …}}) → a loopback stand-in.
OAUTH2_PROVIDER_ENDPOINTS: dict[str, dict[str, str]] = {}

# --- Sandbox ---------------------------------------------------------------------------------------
# Code components run in a warm pool of confined interpreters, one per worker process
# (components/sandbox, docs/sandbox.md). Limits are the defaults of a run; a plan may pass lower ones.

SANDBOX_UID = env_int("SANDBOX_UID", 65534)  # jobs run as this uid/gid when the worker is root
SANDBOX_GID = env_int("SANDBOX_GID", 65534)
# Without Landlock or seccomp the pool refuses every run (error 123) unless this is set: never in production.
SANDBOX_ALLOW_UNSAFE = env_bool("SANDBOX_ALLOW_UNSAFE", False)
# The zygote runs inside bubblewrap's namespaces: "auto" when bwrap is on PATH and starts (else one
# warning), "off"/"0" never, "required"/"1" refuses every run (error 123) when it cannot be used.
SANDBOX_BWRAP = env_choice("SANDBOX_BWRAP", ("auto", "off", "0", "required", "1"), "auto")
# Children forked and confined ahead of their job, per worker process (each idle one costs ~1 MB).
SANDBOX_SPARES = env_int("SANDBOX_SPARES", 2)
SANDBOX_WALL_SECONDS = env_int("SANDBOX_WALL_SECONDS", 20)
SANDBOX_CPU_SECONDS = env_int("SANDBOX_CPU_SECONDS", 10)
SANDBOX_MEMORY_MB = env_int("SANDBOX_MEMORY_MB", 256)
SANDBOX_OUTPUT_BYTES = env_int("SANDBOX_OUTPUT_BYTES", 1_000_000)
SANDBOX_LOG_BYTES = env_int("SANDBOX_LOG_BYTES", 100_000)
SANDBOX_HTTP_CALLS = env_int("SANDBOX_HTTP_CALLS", 20)
