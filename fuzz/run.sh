#!/usr/bin/env bash
# Runs every fuzz target for ${FUZZ_SECONDS:-60} seconds each, with the
# nightly toolchain that cargo-fuzz needs.
#
#   bash fuzz/run.sh            # from anywhere; FUZZ_SECONDS=600 for longer
#
# Each target starts from its seeds (fuzz/seeds/TARGET/, kept clean; those
# of the engine targets `events` and `state` are written by fuzz/seeds.sh)
# copied into a scratch corpus (fuzz/corpus/TARGET/, ignored by git) that
# grows between runs, with the dictionary fuzz/TARGET.dict if there is one. A crash, timeout or out-of-memory input is saved under
# fuzz/artifacts/TARGET/ and makes this script exit non-zero; reproduce one
# with `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${FUZZ_SECONDS:-60}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: installing the nightly toolchain" >&2
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

mapfile -t targets < <(cargo +nightly fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "fuzz: no fuzz targets found" >&2
    exit 2
fi

failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "fuzz/seeds/$target" ]; then
        cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
    fi
    dict=()
    if [ -f "fuzz/$target.dict" ]; then
        dict=(-dict="fuzz/$target.dict")
    fi
    before="$(find "$artifacts" -type f | sort)"
    log="fuzz/corpus/$target.log"
    echo "fuzz: $target for ${seconds}s (log: $log)" >&2
    set +e
    # The differential target allocates heavily in the reference: without
    # AddressSanitizer it runs 40x faster (its oracle is the reference).
    sanitizer=()
    if [ "$target" = differential ]; then
        sanitizer=(-s none)
    fi
    cargo +nightly fuzz run "${sanitizer[@]}" "$target" "$corpus" -- \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 \
        -print_final_stats=1 "${dict[@]}" 2>&1 | tee "$log" |
        grep -E "^(#[0-9]+ +DONE|Done |stat::|==[0-9]+==|SUMMARY|thread '|.*panicked)"
    status="${PIPESTATUS[0]}"
    set -e
    new="$(comm -13 <(echo "$before") <(find "$artifacts" -type f | sort))"
    if [ "$status" -ne 0 ] || [ -n "$new" ]; then
        echo "fuzz: $target FAILED (exit $status); new artifacts:" >&2
        echo "${new:-  (none)}" >&2
        failed+=("$target")
    else
        echo "fuzz: $target ok" >&2
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: failures in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no crashes" >&2
