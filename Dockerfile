FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
COPY sql ./sql
RUN pip install --no-cache-dir . && useradd --create-home orchestrator
USER orchestrator
ENTRYPOINT ["cbr-orchestrator"]
CMD ["--help"]
