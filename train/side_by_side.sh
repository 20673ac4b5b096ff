#!/bin/bash
# Several train.multistyle runs side by side on one GPU, each from its own --init, all ending by one deadline.
#
#   train/side_by_side.sh SECONDS DATA OUTDIR PLAN=INIT [PLAN=INIT ...]
#
# One small run (1-2 slots, 4 photos of 256 px) leaves an H100 mostly idle: eight of them in parallel
# processes ran at 0.13-0.27 s per step each (2026-11-27). Each run fits its schedule (learning-rate decay
# included) to SECONDS; when all have stopped, each run's weights.pt goes into OUTDIR/full.tar or
# OUTDIR/lite.tar by variant (a file back from the device tool holds 16 MiB: two full nets in float32), and
# the logs into OUTDIR/logs.tar, ready for `train.multistyle export --workdir` on another machine.
# Env: STYLECAST_VGG (VGG16 weights; a copy truncated after conv4_3 is enough), PY (python), DEVICE (cuda),
#      WORK (scratch folder, default /tmp/side_by_side), THREADS (per run, default 2).
set -u
if [ $# -lt 4 ]; then
  echo "usage: $0 SECONDS DATA OUTDIR PLAN=INIT [PLAN=INIT ...]" >&2
  exit 2
fi
limit=$1 data=$2 out=$3
shift 3
PY=${PY:-python3} DEVICE=${DEVICE:-cuda} WORK=${WORK:-/tmp/side_by_side} THREADS=${THREADS:-2}
export PYTHONUNBUFFERED=1
mkdir -p "$WORK" "$out" || exit 2
out=$(cd "$out" && pwd)  # the tars are written from inside $WORK
names=()
declare -A plans
for spec in "$@"; do
  plan=${spec%%=*} init=${spec#*=}
  name=$((${#names[@]} + 1))_$(basename "$plan" .json)  # numbered: the same plan may run from two inits
  names+=("$name")
  plans[$name]=$plan
  $PY -m train.multistyle train --plan "$plan" --data "$data" --workdir "$WORK/$name" --steps 1000000 \
    --init "$init" --time-limit "$limit" --fit-schedule --checkpoint-every 500 --log-every 200 \
    --threads "$THREADS" --device "$DEVICE" > "$WORK/$name.log" 2>&1 &
done
wait  # a run that fails at start-up ends at once, so a broken setup costs seconds, not the deadline
full=() lite=()
for name in "${names[@]}"; do
  echo "== $name: $(grep -E 'fitted|^done|^stopped|Error' "$WORK/$name.log" | tr '\n' ' ' | cut -c1-300)"
  [ -f "$WORK/$name/weights.pt" ] || { tail -n 3 "$WORK/$name.log"; continue; }
  if grep -q '"variant": *"lite"' "${plans[$name]}"; then lite+=("$name/weights.pt"); else full+=("$name/weights.pt"); fi
done
cd "$WORK" || exit 1
tar cf "$out/logs.tar" ./*.log
[ ${#full[@]} -gt 0 ] && tar cf "$out/full.tar" "${full[@]}"
[ ${#lite[@]} -gt 0 ] && tar cf "$out/lite.tar" "${lite[@]}"
ls -la "$out"
[ ${#full[@]} -gt 0 ] || [ ${#lite[@]} -gt 0 ]  # exit status: did any run leave weights
