# The servers `scripts/dev` starts on this machine where none is configured: a private
# PostgreSQL, NATS JetStream (one node, or three joined by routes), Redis, a mail sink with a
# web page, and Prometheus. Sourced by scripts/dev, whose settings (STATE, LOGS, the ports,
# PIDS, mode) they read; each adds its process to PIDS, so Ctrl-C stops it with the rest.

start_postgres() {
    local bin data
    bin=$(pg_bin_dir)
    data="$STATE/postgres"
    # PostgreSQL refuses to run as root; as root it runs as `postgres`, which must reach
    # the data directory. A checkout under a private home falls back to /var/tmp.
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
        data="/var/tmp/lzstock-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)/$(basename "$STATE")-postgres"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        say "initdb $data"
        mkdir -p "$data"
        [ "$(id -u)" -eq 0 ] && chown -R postgres: "$data" "$(dirname "$data")" 2>/dev/null
        chmod 700 "$data"
        as_pg_user "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
    fi
    touch "$LOGS/postgres.log"; [ "$(id -u)" -eq 0 ] && chown postgres: "$LOGS/postgres.log"
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg_user "$bin/pg_ctl" -D "$data" -l "$LOGS/postgres.log" -w -t 60 start \
        -o "-p $PG_PORT -k $data -c listen_addresses=127.0.0.1" >/dev/null \
        || die "PostgreSQL did not start; see $LOGS/postgres.log"
    PG_DATA="$data"
    "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres lzstock 2>/dev/null || true
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/lzstock"
}

start_nats() {
    say "starting NATS JetStream on 127.0.0.1:$NATS_PORT"
    nats-server -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MONITOR_PORT" -js -sd "$STATE/nats" \
        >"$LOGS/nats.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$NATS_MONITOR_PORT/healthz?js-enabled-only=true" >/dev/null 2>&1 && break
        sleep 0.1
    done
    export NATS_URL="nats://127.0.0.1:$NATS_PORT"
}

# Three nodes joined by routes, each with its own store: client ports NATS_PORT..+2,
# monitoring NATS_MONITOR_PORT..+2, routes NATS_PORT+2000..+2002. Each node's command is
# kept in .lzstock/cluster/n<i>.sh and its pid in n<i>.pid, so a node can be killed and
# started again by hand.
start_nats_cluster() {
    local dir="$STATE/cluster" node routes="" seeds="" node_pid=()
    mkdir -p "$dir"
    for node in 0 1 2; do
        routes="${routes:+$routes,}nats://127.0.0.1:$((NATS_PORT + 2000 + node))"
        seeds="${seeds:+$seeds,}nats://127.0.0.1:$((NATS_PORT + node))"
    done
    for node in 0 1 2; do
        local name="n$((node + 1))"
        cat >"$dir/$name.sh" <<NODE
#!/usr/bin/env bash
# Node $name of the dev cluster; started by scripts/dev --cluster, restartable by hand
# (scripts/dev stops it with the rest, from its pid file).
echo \$\$ >"$dir/$name.pid"
exec "$(command -v nats-server)" -a 127.0.0.1 -p $((NATS_PORT + node)) -m $((NATS_MONITOR_PORT + node)) \\
    --name $name --cluster_name lzstock-dev --cluster nats://127.0.0.1:$((NATS_PORT + 2000 + node)) \\
    --routes $routes -js -sd "$dir/$name" >>"$LOGS/nats-$name.log" 2>&1
NODE
        chmod +x "$dir/$name.sh"
        say "starting NATS node $name on 127.0.0.1:$((NATS_PORT + node))"
        "$dir/$name.sh" &
        node_pid[node]=$!
        PIDS+=($!)
    done
    # A node can lose its client port to another node's outgoing route connection, which
    # the kernel may give any free port of the ephemeral range, this one included (seen:
    # "bind: address already in use" on 54222). That socket goes when its connect fails, so
    # a node that exited is started again once its port is free.
    local attempt
    for node in 0 1 2; do
        local name="n$((node + 1))"
        for attempt in 1 2 3 4; do
            for _ in $(seq 300); do
                curl -fsS "http://127.0.0.1:$((NATS_MONITOR_PORT + node))/healthz" >/dev/null 2>&1 && break
                kill -0 "${node_pid[node]}" 2>/dev/null || break
                sleep 0.1
            done
            # Running (healthy, or still forming the cluster): on to the next node.
            kill -0 "${node_pid[node]}" 2>/dev/null && break
            [ "$attempt" -lt 4 ] || die "NATS node $name did not start; see $LOGS/nats-$name.log"
            say "NATS node $name exited at start (see $LOGS/nats-$name.log); starting it again"
            for _ in $(seq 100); do
                port_taken 127.0.0.1 $((NATS_PORT + node)) || break
                sleep 0.1
            done
            "$dir/$name.sh" &
            node_pid[node]=$!
            PIDS+=($!)
        done
    done
    export NATS_URL="$seeds"
    export NATS_STREAM_REPLICAS="${NATS_STREAM_REPLICAS:-3}"
}

start_redis() {
    say "starting Redis on 127.0.0.1:$REDIS_PORT"
    mkdir -p "$STATE/redis"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir "$STATE/redis" >"$LOGS/redis.log" 2>&1 &
    PIDS+=($!)
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
}

# maildump (PyPI): an SMTP sink that keeps every message, with a web page to read them and
# a JSON API (GET /messages/). It gets a virtualenv of its own: its Flask and gevent pins
# must not meet the test tools'.
start_mail_sink() {
    local venv="$STATE/maildump-venv"
    if [ ! -x "$venv/bin/maildump" ]; then
        say "installing maildump into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check maildump==1.0
    fi
    say "starting the mail sink: SMTP 127.0.0.1:$SMTP_PORT, web http://127.0.0.1:$MAIL_WEB_PORT"
    "$venv/bin/maildump" -f --smtp-ip 127.0.0.1 --smtp-port "$SMTP_PORT" \
        --http-ip 127.0.0.1 --http-port "$MAIL_WEB_PORT" >"$LOGS/maildump.log" 2>&1 &
    PIDS+=($!)
    export SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
    MAIL_WEB="http://127.0.0.1:$MAIL_WEB_PORT"
}

# Prometheus (Debian's package) on a private port, scraping every local host that serves
# /metrics, with LZStock's alert rules.
start_prometheus() {
    local config="$STATE/prometheus.yml" targets
    if [ "$mode" = lambda ]; then
        targets="'127.0.0.1:$BRIDGE_PORT'"
    else
        targets="'127.0.0.1:$API_PORT', '127.0.0.1:$BRIDGE_PORT', '127.0.0.1:$EVENTS_METRICS_PORT', '127.0.0.1:$SCRAPER_METRICS_PORT'"
    fi
    if [ "$mode" = cluster ]; then
        targets="$targets, '127.0.0.1:$((BRIDGE_PORT + 1))', '127.0.0.1:$((EVENTS_METRICS_PORT + 2))'"
    fi
    cat >"$config" <<PROMETHEUS
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - $ROOT/ops/prometheus/alerts.yml
scrape_configs:
  - job_name: lzstock
    static_configs:
      - targets: [$targets]
PROMETHEUS
    say "starting Prometheus on http://127.0.0.1:$PROMETHEUS_PORT"
    prometheus --config.file="$config" --storage.tsdb.path="$STATE/prometheus" \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" >"$LOGS/prometheus.log" 2>&1 &
    PIDS+=($!)
}
