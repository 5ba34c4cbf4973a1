# The bot in production: `docker compose up` (compose.yaml) runs it beside PostgreSQL; docs/deploy.md says how.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TZUROT_DATA_DIR=/data

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. The project installs no module of its own
# (pyproject.toml says why): `pip install .` brings only what it depends on.
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# A user without a login and without write access to the code; it owns only the data directory.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin tzurot \
    && mkdir -p /data && chown tzurot:tzurot /data && chmod 0700 /data
USER tzurot
VOLUME ["/data"]

# /healthz is 200 only while the gateway is connected and the actor tree answers (README, "Operating it").
# It listens on the container's loopback: the check runs inside the container, nothing is published.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('TZUROT_HTTP_PORT', '9090') + '/healthz', timeout=4)"]

CMD ["python", "bot.py", "run"]
