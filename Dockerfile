FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY orchestrator ./orchestrator
COPY cbr_emulator ./cbr_emulator
COPY sql ./sql
RUN pip install --no-cache-dir . && useradd --create-home orchestrator
USER orchestrator
ENTRYPOINT ["cbr-orchestrator"]
CMD ["worker"]
