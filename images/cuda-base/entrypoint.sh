#!/bin/sh
# warmstart-entrypoint: decide in O(1) whether the shared model cache is usable, point the model
# libraries at it (or at a local fallback), log the decision as one JSON line, then exec the command.
#
# The cache is complete when `.done` holds the sha256 of `manifest.json` (written last by the
# sync job; see docs/model-cache-contract.md). Only those two small files are read: never the
# model files, so the check costs the same with ten files or ten thousand.
set -eu

if [ "$#" -eq 0 ]; then
    echo "warmstart-entrypoint: no command given (usage: warmstart-entrypoint <command> [args...])" >&2
    exit 64
fi

cache="${MODEL_CACHE_PATH:-/models}"
fallback="${LOCAL_MODEL_CACHE:-/tmp/warmstart-models}"

# JSON string content: escape backslashes and quotes, blank out control characters.
json_string() {
    printf '%s' "$1" | tr '\000-\037' ' ' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

log() { # severity message cache_hit extra-json
    printf '{"severity":"%s","message":"%s","cache_hit":%s,"cache_path":"%s"%s}\n' \
        "$1" "$(json_string "$2")" "$3" "$(json_string "$cache")" "$4"
}

point_models_at() {
    export HF_HUB_CACHE="$1/huggingface/hub"
    export SENTENCE_TRANSFORMERS_HOME="$1/sentence-transformers"
    export OLLAMA_MODELS="$1/ollama"
}

reason=""
revision=""
if [ "${SHARED_MODEL_VOLUME_ENABLED:-true}" = "false" ]; then
    reason="volume_disabled"
elif [ ! -f "$cache/.done" ]; then
    reason="no_marker"
elif [ ! -r "$cache/manifest.json" ]; then
    reason="manifest_unreadable"
else
    expected="$(tr -d ' \t\r\n' < "$cache/.done" 2>/dev/null || true)"
    actual="$(sha256sum < "$cache/manifest.json" 2>/dev/null | cut -d ' ' -f 1 || true)"
    if [ -z "$actual" ]; then
        reason="manifest_unreadable"
    elif [ "$expected" != "$actual" ]; then
        # A publish in progress (manifest written, marker not yet) or a damaged manifest.
        reason="stale_marker"
    else
        # The top-level revision sits on its own line near the top, indented two spaces (the
        # contract): stop reading at it, whatever the manifest lists after.
        revision="$(sed -n '/^  "revision": *"/{s/^  "revision": *"\([^"]*\)".*/\1/p;q;}' "$cache/manifest.json")"
        [ -n "$revision" ] || reason="manifest_invalid"
    fi
fi

if [ -z "$reason" ]; then
    point_models_at "$cache"
    # The mount is read-only and holds exactly the published revisions. Online, huggingface_hub
    # asks the Hub for the ref's current commit; once upstream moved past the synced one it
    # downloads into the cache and fails with EROFS, which sentence-transformers turns into a
    # silent mean-pooling fallback. Ollama would prune "unused" blobs at start. Only on a hit:
    # the fallback directory must still be able to download.
    export HF_HUB_OFFLINE=1
    export OLLAMA_NOPRUNE=1
    log "INFO" "model cache hit" "true" ",\"revision\":\"$(json_string "$revision")\""
else
    # The service still starts: models are fetched into a local directory instead.
    mkdir -p "$fallback/huggingface/hub" "$fallback/sentence-transformers" "$fallback/ollama"
    point_models_at "$fallback"
    severity="WARNING"
    [ "$reason" = "volume_disabled" ] && severity="NOTICE"
    log "$severity" "model cache miss, using local directory" "false" ",\"reason\":\"$reason\",\"fallback_path\":\"$(json_string "$fallback")\""
fi

exec "$@"
