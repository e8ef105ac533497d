# The worker / CLI image used by docker-compose.yml (compose and cluster modes).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY retention ./retention
COPY streams ./streams
COPY schemas ./schemas
COPY sinks ./sinks
COPY sql ./sql
RUN pip install --no-cache-dir .
ENTRYPOINT ["retention"]
