# Sourced by the rule revisions' run.sh scripts (bash).
# watch NAME TIMES CMD...: run CMD (log in runs/NAME.log) until runs/NAME/summary.json appears, then stop it, so that
# the run's end-of-run test evaluation is never read; append NAME's end time to TIMES.
watch() {
  local name=$1 times=$2
  shift 2
  "$@" > "runs/$name.log" 2>&1 &
  local pid=$!
  while kill -0 $pid 2>/dev/null; do
    if [ -f "runs/$name/summary.json" ]; then sleep 3; kill $pid; break; fi
    sleep 5
  done
  wait $pid || true
  echo "$name ended $(date -u +%FT%T)" >> "$times"
}
