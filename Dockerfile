# syntax=docker/dockerfile:1
#
# alga-mobile-auth: a static binary on a distroless base (no shell, no
# package manager, runs as uid 65532).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t alga-mobile-auth .
#   (or: make image)
#
# Defaults to embedded SQLite under the /data volume; set
# ALGA_MOBILE_DATABASE_URL=postgres://… to run several replicas.

FROM golang:1.26-bookworm AS build
# The patched toolchain (go.mod's go line), fetched from the Go module proxy.
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src

# Dependencies first, so code changes do not refetch modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ARG VERSION=dev
# CGO_ENABLED=0: the SQLite driver is pure Go, so the binary is fully static
# and runs on a base image without a C library.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/alga-mobile-auth ./cmd/alga-mobile-auth

# The distroless image has no shell to mkdir/chown with, so the data
# directory is made here and copied with its owner.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /out/alga-mobile-auth /alga-mobile-auth
COPY --from=build --chown=65532:65532 /out/data /data

# Numeric, so Kubernetes' runAsNonRoot can verify it (a user name cannot be).
USER 65532:65532

ENV ALGA_MOBILE_DATABASE_URL=sqlite:/data/mobile-auth.db
VOLUME ["/data"]
EXPOSE 8080

# Exec form: there is no shell in the image. The subcommand probes
# http://127.0.0.1:<port of ALGA_MOBILE_LISTEN_ADDR>/healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/alga-mobile-auth", "healthcheck"]

ENTRYPOINT ["/alga-mobile-auth"]
CMD ["serve"]
