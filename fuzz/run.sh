#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) from a copy of the seed corpus, and fails on
# the first crash, abort, leak or hang; the input that caused it is in fuzz/artifacts/TARGET/.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
#   bash fuzz/run.sh          # CI: 60 s each
#   bash fuzz/run.sh 3600     # an hour each
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# No separate `cargo fuzz build`: `cargo fuzz run` builds with other flags (line tables only),
# so a build step here would compile everything twice.
# The topology seeds are the example topologies themselves, so they never go stale.
mkdir -p "$work/topology"
n=0
while IFS= read -r f; do
  n=$((n + 1))
  cp "$f" "$work/topology/seed-$n.hcl"
done < <(find ../plans -name '*.hcl' | sort)
for target in topology state saved_plan var_flag; do
  mkdir -p "$work/$target"
  if [ -d "corpus/$target" ]; then
    cp -r "corpus/$target/." "$work/$target/"
  fi
  echo "fuzz: $target for ${seconds}s"
  # -timeout: an input that takes more than 10 s is a hang; -rss_limit_mb: 2 GiB is a runaway
  # allocation.
  rc=0
  cargo +nightly fuzz run -O "$target" "$work/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    > "$work/$target.log" 2>&1 || rc=$?
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|Done)" "$work/$target.log" || true
  if [ "$rc" -ne 0 ] || compgen -G "artifacts/$target/*" > /dev/null; then
    echo "fuzz: $target failed (exit $rc):" >&2
    tail -40 "$work/$target.log" >&2
    ls artifacts/"$target" 2>/dev/null >&2 || true
    exit 1
  fi
done
echo "fuzz: no crash in ${seconds}s per target"
