# Copy to instance/config.py (python -m rewards.instance init writes one with a fresh SECRET_KEY).
# Every setting can also come from the environment as REWARDS_<NAME>; an unknown name stops start-up.

SECRET_KEY = "change me: python -c 'import secrets; print(secrets.token_hex(32))'"
ENV = "production"                       # "development" only drops the Secure flag of the cookie

# Empty: SQLite file instance/rewards.sqlite3. Production: PostgreSQL.
DATABASE_URL = ""                        # e.g. "postgresql+psycopg://rewards@127.0.0.1:5432/rewards"
SQLITE_BUSY_TIMEOUT_MS = 15000

TIMEZONE = "Asia/Yekaterinburg"          # the retailer's local time: deadlines "by the 25th" use it
DEFAULT_LOCALE = "ru"                    # pages: ru or en
KEYS_DIR = ""                            # empty: instance/keys (Ed25519 signing keys, mode 0700)
PASSWORD_HASH_METHOD = "scrypt:131072:8:1"
SESSION_LIFETIME_HOURS = 12
LOG_LEVEL = "INFO"

# Rate limits must be shared by every worker: use Redis with more than one worker.
RATELIMIT_STORAGE_URI = "memory://"      # e.g. "redis://127.0.0.1:6379/0"
RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_OPTIONS = {}            # e.g. {"key_prefix": "rewards-prod"} when environments share a Redis
MAX_CONTENT_LENGTH = 200 * 1024 * 1024   # uploads (snapshot files)
API_MAX_JSON_BYTES = 64 * 1024           # JSON API bodies
PARTNER_API_LIMIT = "100/second;3000/minute"   # every partner API call, per API key
DRAW_LOOKUP_LIMIT = "10 per minute;60 per hour" # the public draw page's "did I take part?" form, per address
PARTNER_FAILED_LIMIT = "30/minute;300/hour"    # 'not_found' answers per API key (anti-guessing)
API_KEY_CACHE_SECONDS = 2                       # a revoked key works on other workers for at most this long
PARTNER_LIMIT_LEASE = 16                        # Redis: most permits a worker takes at once (1: ask every call)

# The features, by the module holding each one's init_app (docs/contributing.md); their order is the
# order of the navigation, the dashboard panels and the demo data.
FEATURES = ["rewards.snapshots.feature", "draws.feature", "partners.feature", "rewards.flags.feature"]

PRIORITY_TIERS = ["ideal"]               # tiers that get a priority-service flag
PRIORITY_GRACE_MONTHS = 1
DRAW_YEARLY_CAP_KOPECKS = 400_000        # tax-free prize total per account per calendar year
DRAND_FETCH = False                      # True if this server may reach a drand relay
DRAND_FETCH_CRON = "* * * * *"           # with DRAND_FETCH: fetch due drand rounds of frozen draws (UTC cron); "" off

# Background jobs (imports, computes, bulk issues, draws, exports) run in 'flask jobs consumer' processes.
JOBS_URL = ""                            # empty: SQLite queue instance/jobs.sqlite3; production: "redis://127.0.0.1:6379/1"
JOBS_QUEUE = "rewards"                   # the queue's name (two installations on one Redis database: different names)
JOBS_DIR = ""                            # empty: instance/jobs (stored uploads, files jobs write for download)
JOBS_CHECKPOINT_CRON = "30 2 * * *"      # the daily signed audit checkpoint (UTC cron line); "" turns it off
JOBS_KEEP_FILES_DAYS = 7                 # stored uploads and export files are deleted after this many days
# Production operations (docs/operations.md).
TRUSTED_PROXIES = 0                      # proxies in front that set X-Forwarded-For/-Proto (nginx: 1)
METRICS_TOKEN = ""                       # Prometheus' bearer token for /metrics; empty: no /metrics
LOG_FORMAT = "json"                      # "json": one JSON line per request; "text": plain lines
