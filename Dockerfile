# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build -t cbr-orchestrator .                               the orchestrator (worker, api, migrate, …)
#   docker build --target emulator -t cbr-emulator .                 the CBR emulator on its own
# The base is pinned by exact version; the dependencies come from the hash-locked requirements*.lock
# (`make lock` regenerates them), the project itself from a wheel built in the first stage.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY orchestrator ./orchestrator
COPY cbr_emulator ./cbr_emulator
COPY sql ./sql
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --system --no-log-init --uid 10001 --user-group --no-create-home \
        --shell /usr/sbin/nologin orchestrator

FROM runtime AS emulator
RUN --mount=type=bind,source=requirements-emulator.lock,target=/tmp/requirements.lock \
    --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-deps --require-hashes -r /tmp/requirements.lock \
    && pip install --no-cache-dir --no-deps --no-index /wheels/*.whl \
    && pip check
USER 10001:10001
EXPOSE 8790
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8790/_emulator/health', timeout=4)"]
ENTRYPOINT ["cbr-emulator"]
CMD ["--host", "0.0.0.0", "--port", "8790"]

# The default target, last in the file: the orchestrator.
FROM runtime AS orchestrator
RUN --mount=type=bind,source=requirements.lock,target=/tmp/requirements.lock \
    --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-deps --require-hashes -r /tmp/requirements.lock \
    && pip install --no-cache-dir --no-deps --no-index /wheels/*.whl \
    && pip check
# Inside a container the probes and the API must be reachable from outside it.
ENV CBR_ORCH_METRICS__HOST=0.0.0.0 \
    CBR_ORCH_API__HOST=0.0.0.0
USER 10001:10001
EXPOSE 8080 9464
# The metrics port answers /healthz in the worker and the API server alike; port 0 turns it off.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('CBR_ORCH_METRICS__PORT') or '9464'; port == '0' or urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
ENTRYPOINT ["cbr-orchestrator"]
CMD ["worker"]
