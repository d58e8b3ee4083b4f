# syntax=docker/dockerfile:1
# A static minik8s binary on an empty base image, running as a non-root user, for the
# architecture being built (amd64 or arm64).
#   make image                                   docker build -t minik8s:<version> .
#   make image PLATFORMS=linux/amd64,linux/arm64 docker buildx build --platform ... (both)
#   make kind-load                               load it into kind (minikube: minikube image load)
# Dependencies are compiled in a layer of their own (cargo-chef), so a change to minik8s's
# sources rebuilds minik8s only.

FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# The dependency graph alone: changes only when Cargo.toml or Cargo.lock do.
FROM chef AS plan
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
# Set by BuildKit to the platform being built; each maps to its Rust target.
ARG TARGETARCH
RUN case "${TARGETARCH:-$(dpkg --print-architecture)}" in \
      amd64) echo x86_64-unknown-linux-gnu ;; \
      arm64) echo aarch64-unknown-linux-gnu ;; \
      *) echo "unsupported architecture ${TARGETARCH}; build for amd64 or arm64" >&2; exit 1 ;; \
    esac > /rust-target
# Statically linked, so the final image needs nothing but the binary. (tests/cluster/
# build-image.sh builds the same binary and final stage without Docker.)
ENV RUSTFLAGS="-C target-feature=+crt-static"
COPY --from=plan /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --target "$(cat /rust-target)" --bin minik8s --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --target "$(cat /rust-target)" --bin minik8s \
 && cp "target/$(cat /rust-target)/release/minik8s" /minik8s

FROM scratch
COPY --from=build /minik8s /minik8s
USER 65532:65532
ENTRYPOINT ["/minik8s"]
CMD ["controller-manager"]
