#!/usr/bin/env bash
# Installs newman (Postman's runner) into build/newman, pinned, once: the
# tests of the SCIM service run Microsoft's Postman collection with it.
# Prints the path of the newman command.
set -euo pipefail
cd "$(dirname "$0")/../.."
NEWMAN_VERSION=6.2.1
bin=build/newman/node_modules/.bin/newman
if [ ! -x "$bin" ] || [ "$("$bin" --version 2>/dev/null)" != "$NEWMAN_VERSION" ]; then
	command -v npm >/dev/null || { echo "npm is not installed (apt-get install -y nodejs npm)" >&2; exit 1; }
	npm install --prefix build/newman --no-audit --no-fund --loglevel=error \
		"newman@$NEWMAN_VERSION" >&2
fi
echo "$PWD/$bin"
