# minik8s — run `make help` for the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
CLUSTER := tests/cluster

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build the minik8s binary
	$(CARGO) build --locked --bin minik8s

.PHONY: test
test: fmt-check clippy lint-workflows unit integration e2e image-test ## Everything CI runs: format, lints, unit, integration and end-to-end tests, image build

.PHONY: fmt-check
fmt-check: ## Check formatting
	$(CARGO) fmt --all -- --check

.PHONY: clippy
clippy: ## Lint, warnings are errors
	$(CARGO) clippy --locked --all-targets -- -D warnings

.PHONY: unit
unit: ## Unit tests and the CRD drift check (no cluster needed)
	$(CARGO) test --locked --lib --bins --test crds --test chart_readme

.PHONY: integration
integration: ## Integration tests against KUBECONFIG, or a local control plane started (and stopped) for them
	$(CLUSTER)/run-integration.sh

.PHONY: krew
krew: ## The kubectl plugin as a krew archive and manifest for this platform, in target/krew/
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --locked --release --target x86_64-unknown-linux-gnu --bin minik8s
	$(CLUSTER)/krew-package.sh $${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release/minik8s linux amd64 target/krew
	@echo "install: kubectl krew install --manifest=target/krew/minik8s.yaml --archive=target/krew/minik8s_linux_amd64.tar.gz"

.PHONY: lint-workflows
lint-workflows: ## Lint .github/workflows with actionlint
	$(CLUSTER)/lint-workflows.sh

.PHONY: e2e
e2e: ## End-to-end journeys on minik8s as installed (chart + controllers under its accounts), local control plane
	$(CLUSTER)/run-e2e.sh

.PHONY: e2e-kind
e2e-kind: ## The same journeys on a kind cluster with the image loaded and the chart installed (needs Docker)
	$(CLUSTER)/run-e2e.sh kind

.PHONY: bench
bench: ## Benchmarks against the built-in controllers (not part of `make test`); JSON in target/bench/
	tests/cluster/run-bench.sh

.PHONY: chaos
chaos: ## The chaos suite at full size on a cluster of its own, then the fuzz targets; figures in target/chaos/
	$(CLUSTER)/run-chaos.sh

.PHONY: fuzz
fuzz: ## The fuzz targets (cargo-fuzz, nightly) for FUZZ_SECONDS each (default 60)
	$(CLUSTER)/run-fuzz.sh $(or $(FUZZ_SECONDS),60)

.PHONY: crds
crds: ## Regenerate crds/ (and the Helm chart's copy) from the Rust types
	$(CARGO) run --locked --quiet --bin minik8s -- crd --output-dir crds
	rm -f charts/minik8s/files/crds/*.yaml && cp crds/*.yaml charts/minik8s/files/crds/

.PHONY: chart-readme
chart-readme: ## Regenerate the values table of charts/minik8s/README.md from values.yaml
	MINIK8S_WRITE_CHART_README=1 $(CARGO) test --locked --quiet --test chart_readme -- the_chart_readme_lists

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
IMAGE ?= minik8s:$(VERSION)
RELEASE_NAMESPACE ?= minik8s-system

.PHONY: demo
demo: ## Local control plane (or KUBECONFIG), chart, controllers, samples/ rolled side by side
	$(CLUSTER)/demo.sh

.PHONY: image-test
image-test: ## Build and check the image without Docker (buildah, from Debian's packages)
	$(CLUSTER)/build-image.sh

.PHONY: image
image: ## Build the container image (needs Docker); PLATFORMS=linux/amd64,linux/arm64 builds both with buildx
ifeq ($(PLATFORMS),)
	docker build -t $(IMAGE) .
else
	docker buildx build --platform $(PLATFORMS) -t $(IMAGE) $(BUILDX_FLAGS) .
endif

.PHONY: kind-load
kind-load: ## Load the image into kind (minikube: minikube image load $(IMAGE))
	kind load docker-image $(IMAGE)

.PHONY: deploy
deploy: ## helm upgrade --install the chart with that image into the KUBECONFIG cluster
	helm upgrade --install minik8s charts/minik8s --namespace $(RELEASE_NAMESPACE) --create-namespace \
	  --set image.repository=$(firstword $(subst :, ,$(IMAGE))) --set image.tag=$(VERSION)

.PHONY: cluster-up
cluster-up: ## Start the local control plane (3 kwok nodes; MINIK8S_NODES=N for more)
	@$(CLUSTER)/up.sh >/dev/null

.PHONY: cluster-down
cluster-down: ## Stop the local control plane and delete its data
	@$(CLUSTER)/down.sh
