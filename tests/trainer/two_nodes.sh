#!/usr/bin/env bash
# Two nodes on one machine: two network namespaces joined by a veth pair, each with its own
# address, one trainer rank in each; they meet at the first one's address, as two nodes of a
# cluster meet at the first node of the allocation. The 2-node run must give the per-step losses
# of the same run on one node (two local ranks), exactly (the same Gloo all-reduce of 2 ranks).
# Exit 77 (CTest: skipped) with the reason when the namespaces cannot be made (not root, no
# CAP_NET_ADMIN, no iproute2).
# Usage: two_nodes.sh TRAINER SHARDS_DIR OUT_DIR
set -euo pipefail
trainer=$1 shards=$2 out=$3
skip() {
  echo "two_nodes: cannot run: $*" >&2
  exit 77
}
command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
[[ $(id -u) -eq 0 ]] || skip "creating network namespaces needs root"
rm -rf "$out" && mkdir -p "$out"
tag=$$
ns=(mme-node0-$tag mme-node1-$tag)
veth=(mmev0-$tag mmev1-$tag)
address=(10.213.0.1 10.213.0.2)
cleanup() { for n in "${ns[@]}"; do ip netns del "$n" 2>/dev/null || true; done; }
trap cleanup EXIT
for n in "${ns[@]}"; do ip netns add "$n" 2>"$out/ip.err" || skip "ip netns add failed: $(cat "$out/ip.err")"; done
ip link add "${veth[0]}" type veth peer name "${veth[1]}" 2>"$out/ip.err" || skip "ip link add veth failed: $(cat "$out/ip.err")"
for i in 0 1; do
  ip link set "${veth[i]}" netns "${ns[i]}"
  ip -n "${ns[i]}" addr add "${address[i]}/24" dev "${veth[i]}"
  ip -n "${ns[i]}" link set "${veth[i]}" up
  ip -n "${ns[i]}" link set lo up
done

settings=(pretrain model_preset=tiny recipe=mme "data.flow_dir=$shards/real-flow" "data.target_dir=$shards/real-traj"
  optim.batch=4 data.repeats=2 optim.epochs=6 optim.warmup_epochs=1 optim.base_lr=0.05 run.timeout=60)
status=0
# Two nodes: rank i in namespace i, the master at node 0's address.
for i in 0 1; do
  ip netns exec "${ns[i]}" env RANK=$i WORLD_SIZE=2 LOCAL_RANK=0 MASTER_ADDR=${address[0]} MASTER_PORT=29500 \
    "$trainer" "${settings[@]}" "run.out=$out/nodes" >"$out/node$i.log" 2>&1 &
  pids[i]=$!
done
for i in 0 1; do wait "${pids[i]}" || { echo "two_nodes: rank $i failed:" >&2; cat "$out/node$i.log" >&2; status=1; }; done
((status == 0)) || exit 1
grep -q "rendezvous at ${address[0]}:29500" "$out/node0.log" || { echo "two_nodes: rank 0 did not meet at ${address[0]}" >&2; exit 1; }
# The same run on one node, two local ranks.
port=$((30000 + tag % 20000))
for i in 0 1; do
  env RANK=$i WORLD_SIZE=2 LOCAL_RANK=$i MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$trainer" "${settings[@]}" "run.out=$out/local" >"$out/local$i.log" 2>&1 &
  pids[i]=$!
done
for i in 0 1; do wait "${pids[i]}" || { echo "two_nodes: local rank $i failed:" >&2; cat "$out/local$i.log" >&2; exit 1; }; done
losses() { python3 -c 'import json,sys; [print(json.loads(l)["step"], json.loads(l)["loss"]) for l in open(sys.argv[1])]' "$1"; }
if ! diff <(losses "$out/nodes/metrics.jsonl") <(losses "$out/local/metrics.jsonl"); then
  echo "two_nodes: the 2-node losses differ from the 1-node ones" >&2
  exit 1
fi
echo "two_nodes: $(wc -l <"$out/nodes/metrics.jsonl") steps over ${address[0]} and ${address[1]}, losses equal to one node's"
