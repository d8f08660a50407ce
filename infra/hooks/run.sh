#!/bin/sh
# azd hook entry on Linux and macOS: `run.sh <hook> [options]` runs infra/hooks/<hook>.py with the project's
# virtualenv, which the hooks need (httpx and azure-identity, and the connector for its CLI).
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="$root/.venv/bin/python"
if [ ! -x "$python" ]; then
    echo "error: $python not found: run 'make deps' first (the azd hooks use the project's virtualenv)" >&2
    exit 1
fi
hook="$1"
shift
exec "$python" "$root/infra/hooks/$hook.py" "$@"
