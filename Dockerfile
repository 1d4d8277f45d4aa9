# syntax=docker/dockerfile:1
# photo2video: build a self-contained venv in one stage, run it as a non-root user in another.
#   docker build -t photo2video .
#   docker run --env-file .env -v photo2video-data:/data -p 8080:8080 photo2video
# No apt-get anywhere: Pillow and PyAV (av) ship manylinux wheels that bundle their codecs
# (libjpeg, libwebp, ffmpeg with H.264/AAC), so python:3.11-slim needs no system packages.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# pyproject.toml is the one requirement source (README and .ci/run install from it too).
# README.md is copied because pyproject names it as the package's readme.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
# A regular (non-editable) install: the venv must work without /src.
RUN pip install .

FROM ${PYTHON_IMAGE} AS runtime
# A fixed uid/gid so volume ownership and runAsNonRoot checks are predictable.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app \
    && mkdir -p /data /app \
    && chown app:app /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_PATH=/data/photo2video.db
WORKDIR /app
# SQLite database and hosted photos; declared after the chown so a fresh volume is writable.
VOLUME /data
USER 10001:10001
EXPOSE 8080
# slim has no curl: ask /healthz with the standard library (any error or non-2xx exits 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HTTP_PORT', '8080') + '/healthz', timeout=4)"]
CMD ["python", "-m", "bot"]
