# syntax=docker/dockerfile:1
# Build: docker build -t corpus-te .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked && cp target/release/corpus /usr/local/bin/corpus

FROM debian:bookworm-slim
# postgresql-client: pg_dump / pg_restore (15, as the compose file's server) for database backups.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/corpus corpus \
    && mkdir -p /var/lib/corpus/data /var/lib/corpus/spool && chown -R corpus /var/lib/corpus
COPY --from=build /usr/local/bin/corpus /usr/local/bin/corpus
USER corpus
WORKDIR /var/lib/corpus
ENV CORPUS_ENV=production \
    CORPUS_BIND=0.0.0.0:8000 \
    STORAGE_DIR=/var/lib/corpus/data \
    UPLOAD_TMP_DIR=/var/lib/corpus/spool \
    LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["corpus", "healthcheck"]
ENTRYPOINT ["corpus"]
CMD ["serve"]
