# One image for every PAS process (web, worker, beat, flower); docker-compose.yml picks the command.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e . \
    && useradd --create-home --uid 10001 pas \
    && mkdir -p /app/artifacts /app/docs/runs \
    && chown -R pas /app/artifacts /app/docs

ENV PYTHONPATH=/app PYTHONUNBUFFERED=1
USER pas
EXPOSE 6100 6101 6102 6103 6104 6105 6109 6119 6120 6121 8050 8051 8052 8100 8101 8102 8103
CMD ["pas", "web"]
