"""Django settings, all from the environment (django-environ); see README.md › Configuration."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
HTTPS = env.bool("HTTPS", default=False)
if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me-" + "x" * 32)
else:
    SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "axes",
    "csp",
    "mqlapp.leads",
    "scoring",
    "handoff",
    "mqlapp.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # django-axes: turns a sign-in refused by django-axes into its answer (AXES_LOCKOUT_CALLABLE)
    "axes.middleware.AxesMiddleware",
    # Innermost, so it sees a view's database error first: 503 + Retry-After, not a 500.
    "mqlapp.unavailable.DatabaseUnavailableMiddleware",
]
# django-axes first: it refuses a sign-in attempt of a locked username and address before the
# password is checked (every sign-in: the console, /admin/login/, POST /api/auth/token/).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "mqlapp.urls"
WSGI_APPLICATION = "mqlapp.wsgi.application"
AUTH_USER_MODEL = "leads.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"

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
                "django.template.context_processors.i18n",
                "mqlapp.console.views.nav_context",
            ]
        },
    }
]

# --- Database: DATABASE_URL, else an embedded SQLite file --------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'mqlapp.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs a web server and a worker on one file: WAL lets them share it.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # A database that does not answer fails a request in seconds (a 503, see
    # mqlapp/unavailable.py) instead of holding a web thread until the kernel gives up.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
# DATABASE_POOLER=transaction when DATABASE_URL points at a pooler in transaction mode
# (PgBouncer pool_mode=transaction, docker-compose.yml): consecutive transactions of one
# connection may run on different server connections, so nothing may outlive a transaction.
# Django's server-side cursors (QuerySet.iterator() outside a transaction) would, and are off;
# the code sets no session state (docs/scaling.md). Migrations connect to PostgreSQL directly.
DATABASE_POOLER = env("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", "session", "transaction"):
    raise ImproperlyConfigured(f"DATABASE_POOLER={DATABASE_POOLER!r}: '', session or transaction")
if DATABASE_POOLER == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker and cache; without it, background work runs without a broker ----------
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_DB_REUSE_MAX = 200
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers and beat wait for a broker that is down however long it takes (Celery's default
# gives up after 100 tries, ~50 minutes); then they reconnect, declare their queues again
# (a Redis restarted empty has none) and the beat sweeps re-kick what was stored meanwhile.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TIMEZONE = "UTC"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(env("CELERY_BROKER_DIR", default=str(BASE_DIR / ".run" / "broker")))
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
    }
else:
    # Web processes never wait on these: task kicks leave the request thread
    # (mqlapp/leads/publisher.py); short timeouts keep the publisher and /healthz brisk.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
# Periodic jobs: each app adds its own entries to beat_schedule in AppConfig.ready().
CELERY_BEAT_SCHEDULE: dict[str, object] = {}
# Four queues, so a backlog of one kind of work never delays another (docs/scaling.md): a
# webhook backlog (slow or failing receivers) waits on `webhooks` while scoring goes on. Tasks
# are routed by name (beat entries and task_kick too); every task of ours has a route
# (tests/house/test_queues.py). A worker given no -Q consumes all four.
MQLAPP_QUEUES = ("ingest", "scoring", "handoff", "webhooks")
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in MQLAPP_QUEUES]
CELERY_TASK_DEFAULT_QUEUE = "ingest"  # the quiet one: an unrouted task delays no scoring
CELERY_TASK_ROUTES = {
    "handoff.tasks.webhook_deliver": {"queue": "webhooks"},
    "handoff.tasks.webhook_deliveries_due": {"queue": "webhooks"},
    "mqlapp.leads.tasks.*": {"queue": "ingest"},
    "scoring.tasks.*": {"queue": "scoring"},
    # qualification, assignment, SLA, re-approach and the e-mails to reps
    "handoff.tasks.*": {"queue": "handoff"},
}
# Runners a re-score job starts with (scoring.tasks.rescore_run, each claiming ranges of leads);
# each holds a scoring process until the job ends, so at most the pool's size minus one.
SCORING_RESCORE_PARTS: int = env.int("SCORING_RESCORE_PARTS", default=1)
# The simulator counts a draft's behaviour rules over columns (numpy) instead of in one SQL
# statement per event key (docs/scoring.md); False keeps the statement.
SCORING_SIMULATE_COLUMNS: bool = env.bool("SCORING_SIMULATE_COLUMNS", default=True)
# While a back-fill is still being expanded from the inbox, a lead it queued is scored once it
# has waited this long (then every batch that arrived for it meanwhile is scored at once);
# when the inbox is empty, at once. 0 scores after every batch (docs/scoring.md).
SCORING_BULK_SETTLE_SECONDS: float = env.float("SCORING_BULK_SETTLE_SECONDS", default=10.0)
# While a back-fill's leads are still being scored, their qualification waits for a full
# batch, or until the first has waited this long (docs/handoff.md).
QUALIFY_BULK_WAIT_SECONDS: float = env.float("QUALIFY_BULK_WAIT_SECONDS", default=5.0)
# Container objects a web or worker process allocates between two passes of Python's cyclic
# garbage collector (mqlapp/leads/process.py); 0 keeps Python's default of 700.
GC_THRESHOLD: int = env.int("GC_THRESHOLD", default=50_000)
# Events older than this many whole months before the current one are dropped, a monthly
# partition at a time (docs/partitioning.md); unset keeps every event.
EVENT_RETENTION_MONTHS: int | None = env.int("EVENT_RETENTION_MONTHS", default=None)
# Events older than this many days are deleted (whole months dropped, the boundary month row
# by row; mqlapp/leads/retention.py); unset keeps every event. Applied hourly by beat.
EVENT_RETENTION_DAYS: int | None = env.int("EVENT_RETENTION_DAYS", default=None)
# Visitors never identified (no lead is known by their anonymousId / userId) and not seen for
# this many days lose all their events; unset keeps them. Applied hourly by beat.
VISITOR_RETENTION_DAYS: int | None = env.int("VISITOR_RETENTION_DAYS", default=None)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "mqlapp.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that is down or silent fails a cache call in seconds, never hangs it, and the
            # call then answers as an empty cache would (mqlapp/cache.py: throttles fail open).
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # The embedded default signs in through one web process, whose memory cache counts every
    # failure; django-axes warns (W001) because several processes would not share it.
    SILENCED_SYSTEM_CHECKS = ["axes.W001"]

# --- API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mqlapp.leads.auth.BearerlessTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "mqlapp.leads.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mqlapp.leads.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Sign-in throttling (django-axes, docs/security.md): after this many failures of one username
# from one client address within the window, that username is refused from that address (429)
# until the window passes; the same username from another address, and other usernames from
# the same address, still sign in. The address is leads.throttle.client_ip (NUM_PROXIES).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=300)
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"  # the cache: Redis when REDIS_URL is set
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = "mqlapp.leads.throttle.failure_limit"
AXES_COOLOFF_TIME = "mqlapp.leads.throttle.cool_off"
AXES_CLIENT_IP_CALLABLE = "mqlapp.leads.throttle.client_ip"
AXES_USERNAME_CALLABLE = "mqlapp.leads.throttle.username_of"
AXES_LOCKOUT_CALLABLE = "mqlapp.console.views.lockout_response"
# A refused attempt neither counts nor extends the lock: the window runs from the last failure
# that was checked against the password.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ADMIN = False  # the cache handler keeps no rows to show
AXES_VERBOSE = False

SPECTACULAR_SETTINGS = {
    "TITLE": "mqlapp API",
    "DESCRIPTION": "Leads, scoring and the MQL handoff; Segment-compatible ingestion at /v1/.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Schema gaps are reported by `manage.py spectacular --validate`, not as deploy warnings.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    # Two choice sets are called `kind` (a scoring rule's, a source's): each its own name.
    "ENUM_NAME_OVERRIDES": {
        "SourceKindEnum": "mqlapp.leads.models.Source.Kind",
        "RuleKindEnum": "scoring.models.ScoringRule.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mqlapp.openapi.error_responses",
    ],
}

# --- Ingestion limits (Segment's) ---------------------------------------------------------
INGEST_MAX_MESSAGE_BYTES = 32 * 1024
INGEST_MAX_REQUEST_BYTES = 500 * 1024
# Per write key: at most INGEST_RATE_LIMIT messages (a request costs its messages, at least
# 1) per window, else 429 with Retry-After; 0 turns it off. Counted in Redis (no Redis: no
# limit); when Redis fails the limit is skipped for INGEST_RATE_FAIL_OPEN_SECONDS (fail open).
# The default, 20,000 messages a second on average, leaves the load benchmark (~12,000 a
# second from one key) unthrottled and still stops a copied browser key from flooding.
INGEST_RATE_LIMIT = env.int("INGEST_RATE_LIMIT", default=1_200_000)
INGEST_RATE_WINDOW_SECONDS = env.int("INGEST_RATE_WINDOW_SECONDS", default=60)
INGEST_RATE_REDIS_URL = env("INGEST_RATE_REDIS_URL", default=REDIS_URL)
INGEST_RATE_REDIS_TIMEOUT = env.float("INGEST_RATE_REDIS_TIMEOUT", default=0.1)
INGEST_RATE_FAIL_OPEN_SECONDS = env.float("INGEST_RATE_FAIL_OPEN_SECONDS", default=10.0)
# A /v1/batch request with at least this many valid messages, from a server write key, is
# answered once its messages are committed as one row, and a worker on the `ingest` queue
# stores the events moments later (docs/ingestion.md "Large batches"); 0 stores every request
# before answering. The SDKs' own batches (100 at most by default) stay below it.
INGEST_DEFER_MIN_MESSAGES: int = env.int("INGEST_DEFER_MIN_MESSAGES", default=250)
INGEST_MAX_BATCH_MESSAGES = 2500  # as Segment: a larger batch is 413, the client splits it
# Other ways in: landing-page forms (spam: submissions per address and form per window),
# CSV imports, and the proxies in front of the app (to find the client's address).
FORM_RATE_LIMIT = env.int("FORM_RATE_LIMIT", default=10)
FORM_RATE_WINDOW_SECONDS = env.int("FORM_RATE_WINDOW_SECONDS", default=600)
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
# Uploads (CSV imports) stream through LimitedUploadHandler, which drops a file once it passes
# IMPORT_MAX_BYTES (the view answers 413), into memory up to FILE_UPLOAD_MAX_MEMORY_SIZE and
# into a temporary file on disk past it: no upload is held whole in memory before its check.
FILE_UPLOAD_HANDLERS = [
    "mqlapp.leads.ingest.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Trusted proxies in front of the app, each appending the address it saw to X-Forwarded-For
# (with HTTPS=true, at least the TLS proxy): the client's address is the entry NUM_PROXIES from
# the right (leads.throttle.client_ip); 0 reads REMOTE_ADDR and ignores the header.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Webhooks -------------------------------------------------------------------------------
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=False)
# `make run` (MQLAPP_DEMO=true, with DEBUG): a receiver on this machine (127.0.0.1, ::1) may be
# tried out without a restart. Only loopback, only in demo mode: production keeps the SSRF guard.
DEMO = env.bool("MQLAPP_DEMO", default=False)
if DEMO and not DEBUG:
    raise ImproperlyConfigured(
        "MQLAPP_DEMO=true is for `make run` on a laptop: it needs DEBUG=true"
    )
WEBHOOK_ALLOW_LOOPBACK = DEMO
# Seconds one try may take in all (connect, send, answer, body): a receiver that drips bytes
# is cut off then, well within the try's lease.
WEBHOOK_TRY_DEADLINE = env.float("WEBHOOK_TRY_DEADLINE", default=15.0)

# --- Email ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# django-environ reads filemail:///abs/path as a relative path: an absolute one is set here.
if env("EMAIL_FILE_PATH", default=""):
    EMAIL_FILE_PATH = env("EMAIL_FILE_PATH")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="mqlapp <noreply@localhost>")
# The port `make run` serves on (PORT); links in e-mails and the demo source's origin follow it.
PORT = env.int("PORT", default=8000)
APP_BASE_URL = env("APP_BASE_URL", default=f"http://127.0.0.1:{PORT}")

# --- i18n: Japanese and English; Asia/Tokyo by default --------------------------------------
LANGUAGE_CODE = env("LANGUAGE_CODE", default="ja")
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="Asia/Tokyo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Content-Security-Policy (django-csp) on every answer ------------------------------------
# Scripts and styles only from our own static files: no 'unsafe-inline', no 'unsafe-eval'. The
# templates hold no inline <script>, <style>, style="" or on*= handler (page behaviour lives in
# static/js/console.js; tests/test_csp.py walks the pages). No form-action: a landing-page form
# redirects to the marketer's own thank-you URL after its post, which form-action would block.
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
        "frame-ancestors": ["'none'"],
    }
}

# --- Security: production shape with HTTPS=true ----------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
