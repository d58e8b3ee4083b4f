# syntax=docker/dockerfile:1
# A static minik8s binary on an empty base image, running as a non-root user.
#   make image            docker build -t minik8s:<version> .
#   make kind-load        load it into kind (minikube: minikube image load minik8s:<version>)

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin minik8s \
 && cp target/x86_64-unknown-linux-musl/release/minik8s /minik8s

FROM scratch
COPY --from=build /minik8s /minik8s
USER 65532:65532
ENTRYPOINT ["/minik8s"]
CMD ["controller-manager"]
