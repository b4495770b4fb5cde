# tiepdan-node in a small image: `docker build -t tiepdan-node .`, then
#   docker run -v tiepdan:/var/lib/tiepdan -p 50051:50051 tiepdan-node serve --config /etc/tiepdan/node.toml
# (mount the configuration, certificates and secret under /etc/tiepdan).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p tiepdan-server -p tiepdan-client \
    && strip target/release/tiepdan-node target/release/tiepdan

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/tiepdan --shell /usr/sbin/nologin tiepdan \
    && mkdir -p /var/lib/tiepdan /etc/tiepdan \
    && chown tiepdan:tiepdan /var/lib/tiepdan
COPY --from=build /src/target/release/tiepdan-node /src/target/release/tiepdan /usr/local/bin/
COPY packaging/node.toml /etc/tiepdan/node.toml.example
USER tiepdan
VOLUME ["/var/lib/tiepdan"]
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/tiepdan-node", "--log-format", "json"]
CMD ["serve", "--config", "/etc/tiepdan/node.toml"]
