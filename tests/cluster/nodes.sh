#!/usr/bin/env bash
# Prints N fake Node objects for kwok: 4 CPU, 16Gi, 110 pods, each in its own zone, each with
# its own pod CIDR (so pod IPs tell which node a pod is on).
set -euo pipefail
count="${1:?usage: nodes.sh COUNT}"
for ((i = 0; i < count; i++)); do
  cat <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    node.kubernetes.io/instance-type: kwok
    topology.kubernetes.io/region: local
    topology.kubernetes.io/zone: zone-$i
    type: kwok
spec:
  podCIDR: 10.244.$i.0/24
  podCIDRs: [10.244.$i.0/24]
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
  capacity: {cpu: "4", memory: 16Gi, pods: "110"}
NODE
done
