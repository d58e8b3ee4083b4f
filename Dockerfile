# syntax=docker/dockerfile:1
# A static minik8s binary on an empty base image, running as a non-root user.
#   make image            docker build -t minik8s:<version> .
#   make kind-load        load it into kind (minikube: minikube image load minik8s:<version>)

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Statically linked, so the final image needs nothing but the binary. (tests/cluster/
# build-image.sh builds the same binary and final stage without Docker.)
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu --bin minik8s \
 && cp target/x86_64-unknown-linux-gnu/release/minik8s /minik8s

FROM scratch
COPY --from=build /minik8s /minik8s
USER 65532:65532
ENTRYPOINT ["/minik8s"]
CMD ["controller-manager"]
