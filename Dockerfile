# The API image for docker-compose: crosstrack against a ClickHouse server.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY crosstrack ./crosstrack
COPY cube ./cube
COPY api ./api
COPY loaders ./loaders
COPY models ./models
RUN pip install --no-cache-dir .
ENV CROSSTRACK_MODELS_DIR=/app/models CROSSTRACK_HOST=0.0.0.0
EXPOSE 8000 15432
CMD ["crosstrack", "serve"]
