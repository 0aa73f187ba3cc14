FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
COPY sql ./sql
ENV CBR_ORCH_SQL_DIR=/app/sql
RUN pip install --no-cache-dir . && useradd --create-home orchestrator
USER orchestrator
ENTRYPOINT ["cbr-orchestrator"]
CMD ["worker"]
