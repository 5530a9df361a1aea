# Strom services image: one image, the service is chosen by the command
# (`strom jobmanager`, `strom resourcemanager`, `strom taskmanager --slots 2`).
# Used by docker-compose.yml; build with `docker build -t strom .`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/strom
# Only what `pip install .` needs: never the build context's secrets (.env, .compose/ of
# ops/compose-secrets, a local stack's .strom/) nor its .venv.
COPY pyproject.toml README.md ./
COPY libs libs
COPY services services
COPY schemas schemas
# confluent-kafka ships manylinux wheels with librdkafka inside: no compiler needed.
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /opt/strom --shell /usr/sbin/nologin strom \
    && mkdir -p /var/lib/strom \
    && chown strom /var/lib/strom

USER strom
ENV STROM_STATE_DIR=/var/lib/strom
# JobManager REST API / web UI
EXPOSE 8081

ENTRYPOINT ["strom"]
CMD ["--help"]
