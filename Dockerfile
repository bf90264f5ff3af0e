# Multi-stage build: compile in the Rust image, run from a small Debian image as
# a non-root user. Base images are pinned to releases (.ci/compose-check.sh).
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
RUN cargo build --release --locked && strip target/release/stowage

FROM debian:12.12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/stowage --create-home stowage \
 && install -d -o stowage -g stowage -m 0700 /var/lib/stowage/data
COPY --from=build /src/target/release/stowage /usr/local/bin/stowage
COPY config/stowage.toml /etc/stowage/stowage.toml
USER stowage
WORKDIR /var/lib/stowage
ENV STOWAGE_CONFIG=/etc/stowage/stowage.toml \
    STOWAGE_LISTEN=0.0.0.0:8080 \
    STOWAGE_DATA_DIR=/var/lib/stowage/data \
    DATABASE_URL=sqlite:///var/lib/stowage/data/stowage.db \
    STOWAGE_STORAGE_URL=file:///var/lib/stowage/data/blobs
EXPOSE 8080
VOLUME ["/var/lib/stowage/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["stowage"]
CMD ["serve"]
