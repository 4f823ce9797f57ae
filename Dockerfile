# vaxel as a container: `vaxel serve` by default; the same image runs `vaxel callbacks run`, `vaxel stats run`
# and `vaxel db upgrade` (compose.yaml). Non-root, slim, with espeak-ng and sox for Asterisk's prompt audio.
FROM python:3.11-slim-bookworm AS build

WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY ivr ./ivr
COPY directory ./directory
COPY stats ./stats
COPY callback ./callback
COPY switchboard ./switchboard
COPY config ./config
# A non-editable install: config/ lands in /opt/vaxel/share/vaxel/config, where core/settings.py finds it.
RUN python -m venv /opt/vaxel \
    && /opt/vaxel/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim-bookworm

# Debian's security updates replace these versions, so they are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng sox \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/vaxel --create-home --shell /usr/sbin/nologin vaxel \
    && install -d -o vaxel -g vaxel -m 0750 /var/lib/vaxel/sounds

COPY --from=build /opt/vaxel /opt/vaxel

ENV PATH=/opt/vaxel/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    VAXEL_SERVICE_HOST=0.0.0.0 \
    VAXEL_ASTERISK_AGI_HOST=0.0.0.0 \
    VAXEL_DATABASE_URL=sqlite:////var/lib/vaxel/vaxel.db \
    VAXEL_ASTERISK_SOUNDS_DIR=/var/lib/vaxel/sounds \
    VAXEL_LOG_FORMAT=json

USER 10001:10001
WORKDIR /var/lib/vaxel
VOLUME ["/var/lib/vaxel"]
# 5000: web views and Twilio webhooks (put an HTTPS proxy in front); 4573: FastAGI (allow only the Asterisk host)
EXPOSE 5000 4573

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4)"]

CMD ["vaxel", "serve"]
