# syntax=docker/dockerfile:1
#
# revocd container image: static, CGO-free binaries (modernc.org/sqlite is
# pure Go) on distroless, running as the unprivileged "nonroot" user.
#
#   docker build -t revocd:local .
#   docker run --rm -p 8000:8000 -v revocd-data:/data \
#     -e JWT_SECRET_KEY="$(openssl rand -hex 32)" -e ADMIN_API_KEYS="$(openssl rand -hex 24)" revocd:local
#
# The image holds both binaries: revocd (the entrypoint; `consume` and
# `event-key` are its subcommands) and revoctl, which also serves as the
# container health check (`revoctl ready`), as distroless has no shell/curl.

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/revocd ./cmd/revoctl \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/revocd /out/revoctl /usr/local/bin/
# /data must exist and belong to nonroot (65532) before it becomes a volume.
COPY --from=build --chown=65532:65532 /out/data /data
ENV LISTEN_ADDR=0.0.0.0:8000 \
    SQLITE_PATH=/data/revocation.db \
    LOG_FORMAT=json
WORKDIR /data
# 8000: HTTP API; 7000: cluster remoting (when CLUSTER_LISTEN is set).
EXPOSE 8000 7000
VOLUME /data
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/revoctl", "--url", "http://127.0.0.1:8000", "--timeout", "2s", "ready"]
ENTRYPOINT ["/usr/local/bin/revocd"]
