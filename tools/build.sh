#!/usr/bin/env bash
# Builds the tools that the real-process tests run, from Go modules (and one Python client from
# PyPI, pinned with hashes), into a cache outside the clone keyed by version (tools/versions.env),
# and reuses what is already there: a fresh clone on the same machine builds nothing, a new machine
# builds everything from this one script.
#
#   bash tools/build.sh                 # every tool (npm run tools)
#   bash tools/build.sh gcsfuse pulumi  # some of them
#   bash tools/build.sh --path gcsfuse  # print where a tool's binaries are; exit 3 if not built
#   bash tools/build.sh --version gcsfuse  # print the version it builds
#
# WARMSTART_TOOLS moves the cache (default: ~/.cache/warmstart/tools). A tool lands in
# <cache>/<name>-<version>/ by an atomic rename, so a killed build never leaves half a tool.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$root/tools/versions.env"
cache=${WARMSTART_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/warmstart/tools}
all_tools=(distribution fake-gcs-server gcsfuse pulumi huggingface-hub)
# The Python client, pinned with hashes; keyed by that file's content, so any pin change rebuilds it.
hub_requirements="$root/tools/python/requirements.txt"

version_of() {
    case "$1" in
        pulumi) echo "$PULUMI_VERSION" ;;
        gcsfuse) echo "$GCSFUSE_VERSION" ;;
        fake-gcs-server) echo "$FAKE_GCS_SERVER_VERSION" ;;
        distribution) echo "$DISTRIBUTION_VERSION" ;;
        huggingface-hub) echo "$(sed -n 's/^huggingface-hub==\([^ ]*\).*/\1/p' "$hub_requirements")-$(sha256sum < "$hub_requirements" | cut -c 1-12)" ;;
        *) echo "unknown tool '$1' (known: ${all_tools[*]})" >&2; return 2 ;;
    esac
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

build_one() {
    local name=$1 dest tmp start
    dest=$(tool_dir "$name")
    if [ -d "$dest/bin" ]; then
        echo "$name $(version_of "$name"): cached in $dest"
        return 0
    fi
    [ "$name" = huggingface-hub ] || command -v go >/dev/null || { echo "building $name needs Go (https://go.dev/dl/ or the distribution's golang package)" >&2; return 1; }
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.build-$name-XXXXXX")
    trap 'rm -rf "$tmp"' RETURN
    echo "$name $(version_of "$name"): building into $dest"
    start=$SECONDS
    # The go command's progress goes to a log, shown when the build fails.
    if ! "build_${name//-/_}" "$tmp" > "$tmp/build.log" 2>&1; then
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
for name in "${requested[@]}"; do
    build_one "$name"
done
