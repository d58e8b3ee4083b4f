#!/usr/bin/env bash
# Prints N fake Node objects for kwok: 4 CPU, 16Gi, 110 pods, each in its own zone (or, with
# MINIK8S_ZONES=Z, spread round-robin over Z zones), each with its own pod CIDR (so pod IPs
# tell which node a pod is on): 10.244.0.0/24, 10.244.1.0/24, … then 10.245.0.0/24 after 256.
set -euo pipefail
count="${1:?usage: nodes.sh COUNT}"
zones="${MINIK8S_ZONES:-0}"
for ((i = 0; i < count; i++)); do
  zone=$((zones > 0 ? i % zones : i))
  cidr="10.$((244 + i / 256)).$((i % 256)).0/24"
  cat <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
    # Where metrics-server reads this node's resource metrics: kwok-controller serves every
    # node's on its own port (the node's kubelet port), told apart by the path.
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/kwok-node-$i/metrics/resource
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    node.kubernetes.io/instance-type: kwok
    topology.kubernetes.io/region: local
    topology.kubernetes.io/zone: zone-$zone
    type: kwok
spec:
  podCIDR: $cidr
  podCIDRs: [$cidr]
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
  capacity: {cpu: "4", memory: 16Gi, pods: "110"}
NODE
done
