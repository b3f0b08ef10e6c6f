#!/usr/bin/env bash
# The real Pulumi engine, offline: `npm run engine -- <pulumi arguments>`, e.g.
#   npm run engine -- stack init local && npm run engine -- up -s local
#   npm run engine -- preview -s dev --policy-pack policy
#
# The CLI, the Node.js language host and the providers come from `npm run tools` (built from
# source, installed into a PULUMI_HOME of their own); nothing is downloaded. Each setting below
# yields to one the caller already exported:
#   PULUMI_BACKEND_URL        file://<project>/.pulumi-state (git-ignored)
#   PULUMI_CONFIG_PASSPHRASE  a fixed offline passphrase: the state holds no real secret offline
#   GOOGLE_OAUTH_ACCESS_TOKEN with no GCP credentials on the machine, a token that can never work:
#                             the gcp provider configures with it (it fails at once with none),
#                             so previews run and any call that reaches Google is refused
#   DOCKER_HOST               the engine that answers; with none, dockerd is started with its own
#                             data root (vfs) under the tools cache, and left running
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/tools/build.sh"

tool_bin() { # tool: its bin folder, or a message naming the command that builds it
    bash "$build" --path "$1" 2>/dev/null || {
        echo "engine: $1 $(bash "$build" --version "$1") is not built: run npm run tools" >&2
        exit 3
    }
}
cli_bin=$(tool_bin pulumi)
host_bin=$(tool_bin pulumi-language-nodejs)
# The language host runs the program with the first node on PATH: the release tools/versions.env
# pins (@pulumi/pulumi declares Node 22 or newer), whatever node the machine has.
node_bin=$(tool_bin node)
tools_home=$(bash "$build" --pulumi-home)
export PULUMI_HOME=${PULUMI_HOME:-$tools_home}

# The engine loads exactly the provider version each SDK in node_modules asks for.
[ -d "$root/node_modules/@pulumi/pulumi" ] || { echo "engine: the project's packages are not installed: run npm ci" >&2; exit 3; }
while read -r plugin version; do
    [ -f "$PULUMI_HOME/plugins/resource-$plugin-v$version/pulumi-resource-$plugin" ] || {
        echo "engine: provider $plugin $version is not installed in $PULUMI_HOME: run npm run tools" >&2
        exit 3
    }
done < <(node "$root/scripts/offline/providerPlugins.mjs" "$root")

export PATH="$host_bin:$node_bin:$cli_bin:$PATH"
# The CLI's own update check and plugin downloads would reach the network.
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
    mkdir -p "$root/.pulumi-state"
    export PULUMI_BACKEND_URL="file://$root/.pulumi-state"
fi
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE-warmstart offline state}

has_gcp_credentials() {
    [ -n "${GOOGLE_OAUTH_ACCESS_TOKEN:-}${GOOGLE_APPLICATION_CREDENTIALS:-}${GOOGLE_CREDENTIALS:-}${CLOUDSDK_AUTH_ACCESS_TOKEN:-}" ] ||
        [ -f "${CLOUDSDK_CONFIG:-$HOME/.config/gcloud}/application_default_credentials.json" ]
}
has_gcp_credentials || export GOOGLE_OAUTH_ACCESS_TOKEN="warmstart-offline-not-a-gcp-token"

# A Docker engine: the local target runs on it, and the build providers connect to one.
docker_answers() { timeout 10 docker ${1:+-H "$1"} version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if [ -z "${DOCKER_HOST:-}" ] && ! docker_answers; then
    command -v dockerd >/dev/null || { echo "engine: no Docker engine answers and dockerd is not installed (Debian: apt-get install docker.io)" >&2; exit 3; }
    engine_dir="$(dirname "$tools_home")/docker-engine"
    socket="unix://$engine_dir/docker.sock"
    if ! docker_answers "$socket"; then
        mkdir -p "$engine_dir"
        echo "engine: starting dockerd (data root $engine_dir/data, log $engine_dir/dockerd.log)" >&2
        nohup dockerd --host "$socket" --data-root "$engine_dir/data" --exec-root "$engine_dir/exec" \
            --pidfile "$engine_dir/dockerd.pid" --storage-driver vfs > "$engine_dir/dockerd.log" 2>&1 < /dev/null &
        for _ in $(seq 1 60); do docker_answers "$socket" && break; sleep 0.5; done
        docker_answers "$socket" || { tail -n 20 "$engine_dir/dockerd.log" >&2; echo "engine: dockerd did not answer on $socket (its log above)" >&2; exit 3; }
    fi
    export DOCKER_HOST=$socket
fi

cd "$root"
exec pulumi "$@"
