"""Siyu settings: one module, everything read from the environment.

With no environment set, Siyu runs on the embedded default: SQLite, the in-memory channel
layer, a local-memory cache and Celery on a filesystem broker (no servers to install).
Setting ``DATABASE_URL`` and ``REDIS_URL`` switches to PostgreSQL and Redis.
"""

import logging
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # embedded default's database, broker folders and media

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="siyu-embedded-default-not-for-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "tenants.apps.SiyuAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / ReDoc assets, served locally (no CDN)
    "channels",
    "health_check",  # its page for /healthz in a browser
    "tenants",
    "commerce",
    "livestream",
    "guides",
    "coupons",
    "web",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.SessionMiddleware",  # this, auth's and messages': for pages, not the API
    "tenants.middleware.AdminLocaleMiddleware",  # the admin in Chinese (or the operator's choice); the API in English
    "django.middleware.common.CommonMiddleware",
    "tenants.middleware.TextRuleMiddleware",  # the text rule on URLs, query strings and admin forms
    "django.middleware.csrf.CsrfViewMiddleware",
    "tenants.middleware.AuthenticationMiddleware",
    "tenants.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.middleware.BrandScopeMiddleware",
]

ROOT_URLCONF = env.str("ROOT_URLCONF", default="config.urls")  # benchmarks mount their reference views
ADMIN_URL_PATH = "admin/"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'siyu.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions make concurrent writers queue instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    # Off by default: the check is a round trip at the start of every request (a tenth of a flash
    # sale's time); a connection that broke fails one request and is replaced.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        try:
            import psycopg  # noqa: F401  (psycopg 3: statements bound and prepared on the server)
        except ImportError:
            pass
        else:
            # A statement run five times on a connection is prepared: PostgreSQL parses and plans
            # the hot paths once per connection, not once per request. Off behind a pooler in
            # transaction mode (PgBouncer < 1.21), which cannot keep prepared statements.
            DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker ---------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Parallel test workers (pytest-xdist) share one Redis: each gets its own key namespace.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="siyu") + env.str("PYTEST_XDIST_WORKER", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            # A cold cache while Redis is down; one redis-py client per pool (tenants/redis.py).
            "BACKEND": "tenants.redis.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_KEY_PREFIX}:asgi"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# Periodic jobs (DESIGN §9). Each feature app adds its entries here, so every schedule is in one place.
CELERY_BEAT_SCHEDULE = {
    "start-reminders": {"task": "livestream.send_start_reminders", "schedule": 30.0},
    "flush-live-state": {"task": "livestream.flush_live_state", "schedule": 5.0},
    "resume-follow-ups": {"task": "livestream.resume_follow_ups", "schedule": 300.0},
    "draw-due-lotteries": {"task": "livestream.draw_due_lotteries", "schedule": 10.0},
    "lapse-unclaimed-prizes": {"task": "livestream.lapse_unclaimed_prizes", "schedule": 600.0},
    "expire-unpaid-orders": {"task": "commerce.expire_unpaid_orders", "schedule": 30.0},
    "complete-shipped-orders": {"task": "commerce.complete_shipped_orders", "schedule": 3600.0},
    "close-expired-groups": {"task": "commerce.close_expired_groups", "schedule": 30.0},
    "settle-commissions": {"task": "guides.settle_commissions", "schedule": 6 * 3600.0},
    "freeze-leaderboards": {"task": "guides.freeze_leaderboards", "schedule": 300.0},
}

# --- Auth and API ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tenants.api.parsers.TextRuleJSONParser"],  # the one text rule (tenants.text)
    "DEFAULT_PAGINATION_CLASS": "tenants.api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["tenants.api.filters.BrandFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "tenants.schema.AutoSchema",
    "EXCEPTION_HANDLER": "tenants.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("THROTTLE_LOGIN", default="30/min"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_SECONDS", default=2 * 3600)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=30)),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "ALGORITHM": "HS256",
    "UPDATE_LAST_LOGIN": False,
}

# A customer's and brand's row is remembered per process this long (tenants.auth): a suspended
# brand is refused by every process within these seconds.
CUSTOMER_CACHE_SECONDS = env.int("CUSTOMER_CACHE_SECONDS", default=5)

SPECTACULAR_SETTINGS = {
    "TITLE": "Siyu API",
    "DESCRIPTION": (
        "Private-domain livestream commerce for brands in the WeChat ecosystem.\n\n"
        "* `/api/v1/mp/` — the brand's mini-program (customer token from `POST /api/v1/mp/login`).\n"
        "* `/api/v1/console/` — brand operators (staff token + `X-Brand` header).\n"
        "* `/api/v1/guide/` — store guides (staff token + `X-Brand` header).\n"
        "* `/api/v1/platform/` — the platform operator (superuser staff token).\n\n"
        'Every error has the shape `{"error": {"code": "snake_case", "message": "...", '
        '"fields": {...}}}`. Money is integer fen; times are ISO 8601 in UTC.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "BrandStatusEnum": "tenants.models.Brand.Status",
        "StaffInvitationRoleEnum": "tenants.models.StaffInvitation.Role",
        "StaffInvitationStatusEnum": "tenants.models.StaffInvitation.Status",
        "GuideKindEnum": "guides.models.Guide.Kind",
        "RoomKindEnum": "livestream.models.LiveRoom.Kind",
        "CommissionEntryKindEnum": "guides.models.CommissionEntry.Kind",
        "CommissionEntryRoleEnum": "guides.models.CommissionEntry.Role",
        "SettlementStatusEnum": "guides.models.Settlement.Status",
        "ShareTargetEnum": "guides.models.ShareCode.Target",
        "RoomStatusEnum": "livestream.models.LiveRoom.Status",
        "CoStreamStatusEnum": "livestream.models.CoStream.Status",
        "FestivalStatusEnum": "livestream.models.Festival.Status",
        "VenueStatusEnum": "livestream.models.Venue.Status",
        "ReminderStatusEnum": "livestream.models.ReminderSubscription.Status",
        "ProductStatusEnum": "commerce.models.Product.Status",
        "OrderStatusEnum": "commerce.models.Order.Status",
        "PaymentStatusEnum": "commerce.models.Payment.Status",
        "RefundStatusEnum": "commerce.models.Refund.Status",
        "CouponKindEnum": "coupons.models.CouponTemplate.Kind",
        "CommentStatusEnum": "livestream.models.Comment.Status",
        "ProductAuditStatusEnum": "commerce.models.Product.AuditStatus",
        "StoreStatusEnum": "guides.models.Store.Status",
        "GuideStatusEnum": "guides.models.Guide.Status",
        "LotteryStatusEnum": "livestream.models.Lottery.Status",
        "LotteryWinnerStatusEnum": "livestream.models.LotteryWinner.Status",
        "GiftBoxStatusEnum": "livestream.models.GiftBox.Status",
        "GiftBoxPrizeKindEnum": "livestream.models.GiftBoxPrize.Kind",
    },
}

# --- WeChat ---------------------------------------------------------------------------------
# "sandbox": deterministic, offline clients (embedded default and tests).
# "wechat": the real HTTPS clients speaking WeChat's protocol (production).
WECHAT_BACKEND = env.str("WECHAT_BACKEND", default="sandbox")
WECHAT_API_BASE = env.str("WECHAT_API_BASE", default="https://api.weixin.qq.com")
WECHAT_HTTP_TIMEOUT = env.float("WECHAT_HTTP_TIMEOUT", default=5.0)

# --- I18N, static, security -----------------------------------------------------------------
# The admin speaks Chinese unless its user picks English (the switch in its header sets Django's
# language cookie); the API, its error messages and the pages' own texts stay in English for the
# mini-program developers (error codes are the contract). Storage is UTC; the admin shows a
# brand's times in Brand.timezone and the platform operator's in PLATFORM_ADMIN_TIME_ZONE.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
API_LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
PLATFORM_ADMIN_TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
MEDIA_URL = "media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# The embedded default serves MEDIA_ROOT itself (the demo's pictures); in production a CDN or the
# proxy serves uploaded media, so it is off once Redis is configured.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=not REDIS_URL)
# Where this Siyu is reached, for absolute links it prints or stores (the demo's picture URLs).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG and bool(REDIS_URL))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # A 4xx is an answer the API meant to give (sold out, not found): not worth a log line each.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": max(logging.ERROR, logging.getLevelName(LOG_LEVEL))},
    },
}

# --- Live rooms -----------------------------------------------------------------------------
# A socket's heartbeat: sent every LIVE_HEARTBEAT_S by its process, counted online for
# LIVE_ONLINE_TTL_S after the last one (so a process that dies stops being counted by then).
LIVE_HEARTBEAT_S = env.float("LIVE_HEARTBEAT_S", default=10.0)
LIVE_ONLINE_TTL_S = env.int("LIVE_ONLINE_TTL_S", default=30)
# How often the periodic flush writes a room's open viewing sessions (as they stand then; a
# report writes its rooms' at once, and a leave writes each session as it ended).
LIVE_OPEN_SESSIONS_EVERY_S = env.int("LIVE_OPEN_SESSIONS_EVERY_S", default=60)
# Where streaming software (OBS, an encoder) pushes a room: {brand} slug, {room} id, {key} secret.
LIVE_PUSH_URL_TEMPLATE = env.str(
    "LIVE_PUSH_URL_TEMPLATE", default="rtmp://push.siyu.local/live/{brand}-{room}?key={key}"
)
# The mini-program page that opens a room; reminders and share codes link to it.
MP_ROOM_PAGE = env.str("MP_ROOM_PAGE", default="pages/room/index")
# The pages a guide's share code opens for a product or a store (the scene tells them who shared).
MP_PRODUCT_PAGE = env.str("MP_PRODUCT_PAGE", default="pages/product/index")
MP_STORE_PAGE = env.str("MP_STORE_PAGE", default="pages/store/index")
# Share posters draw the room cover or product image when it can be fetched within this many seconds.
SHARE_POSTER_IMAGE_TIMEOUT = env.float("SHARE_POSTER_IMAGE_TIMEOUT", default=3.0)

# --- WeChat Pay -----------------------------------------------------------------------------
# Used when WECHAT_BACKEND is "wechat" (../shared/WECHAT.md §6); the sandbox needs none of them.
# Verifying WeChat Pay's signatures takes the WeChat Pay public key (PATH + its PUB_KEY_ID_… ID),
# platform certificates (comma-separated PEM paths), or both while a merchant migrates.
WECHATPAY_MCHID = env.str("WECHATPAY_MCHID", default="")
WECHATPAY_MERCHANT_SERIAL_NO = env.str("WECHATPAY_MERCHANT_SERIAL_NO", default="")
WECHATPAY_PRIVATE_KEY_PATH = env.str("WECHATPAY_PRIVATE_KEY_PATH", default="")
WECHATPAY_APIV3_KEY = env.str("WECHATPAY_APIV3_KEY", default="")
WECHATPAY_PLATFORM_CERTS = env.list("WECHATPAY_PLATFORM_CERTS", default=[])
WECHATPAY_PUBLIC_KEY_PATH = env.str("WECHATPAY_PUBLIC_KEY_PATH", default="")
WECHATPAY_PUBLIC_KEY_ID = env.str("WECHATPAY_PUBLIC_KEY_ID", default="")
# Where WeChat Pay POSTs payment and refund results; no query string (WECHAT.md §6).
WECHATPAY_NOTIFY_URL = env.str("WECHATPAY_NOTIFY_URL", default="")
WECHATPAY_API_BASE = env.str("WECHATPAY_API_BASE", default="")  # empty: https://api.mch.weixin.qq.com
# Commission payouts (商家转账): "sandbox" or "wechat" (through the WeChat Pay settings above).
TRANSFER_BACKEND = env.str("TRANSFER_BACKEND", default=WECHAT_BACKEND)
WECHATPAY_TRANSFER_NOTIFY_URL = env.str("WECHATPAY_TRANSFER_NOTIFY_URL", default="")
