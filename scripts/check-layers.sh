#!/usr/bin/env bash
# Fails when a source file includes a layer above its own: data moves one
# way (util < model < plan < format < ingest < store < sync < server: the
# plan is pure, built on the model alone; the format layer spells the model
# and the plan, ingest reads with its names; the client sits on util and
# model only; cli may use everything).
#   check-layers.sh [SRC_DIR]          (default: src)
#   check-layers.sh --archives DIR     the same for calls: DIR holds one archive per
#                                      layer (LAYER.a, as the Makefile builds them), and
#                                      no archive may use a symbol that one above defines
#   check-layers.sh --self-test        shows that an upward include and call are caught
set -euo pipefail

rank() {
	case $1 in
	util) echo 0 ;;
	model) echo 1 ;;
	plan) echo 2 ;;
	format) echo 3 ;;
	ingest) echo 4 ;;
	store) echo 5 ;;
	sync) echo 6 ;;
	server) echo 7 ;;
	client) echo 7 ;;
	cli) echo 9 ;;
	*) echo -1 ;;
	esac
}

# allowed FROM TO: whether layer FROM may include layer TO.
allowed() {
	local from=$1 to=$2
	[ "$from" = "$to" ] && return 0
	if [ "$from" = client ]; then
		[ "$to" = util ] || [ "$to" = model ]
		return
	fi
	[ "$to" = client ] && { [ "$from" = cli ]; return; }
	[ "$(rank "$to")" -ge 0 ] && [ "$(rank "$to")" -lt "$(rank "$from")" ]
}

check() {
	local root=$1 bad=0 file layer line to
	while IFS= read -r file; do
		layer=${file#"$root"/}
		layer=${layer%%/*}
		[ "$(rank "$layer")" -ge 0 ] || { echo "$file: unknown layer '$layer'" >&2; bad=1; continue; }
		while IFS=: read -r line to; do
			to=${to#*\"}
			to=${to%%/*}
			if ! allowed "$layer" "$to"; then
				echo "$file:$line: $layer includes $to, a layer above it or beside it" >&2
				bad=1
			fi
		done < <(grep -n '^#include "[a-z]*/' "$file" || true)
	done < <(find "$root" -name '*.[ch]' | sort)
	return $bad
}

# Fails when an archive's undefined symbol is defined by an archive it may not use.
check_archives() {
	local dir=$1 bad=0 a layer sym to
	local -A owner=()
	for a in "$dir"/*.a; do
		layer=$(basename "$a" .a)
		while read -r sym; do
			owner[$sym]=$layer
		done < <(nm -g --defined-only "$a" 2>/dev/null | awk 'NF == 3 { print $3 }')
	done
	for a in "$dir"/*.a; do
		layer=$(basename "$a" .a)
		while read -r sym; do
			to=${owner[$sym]:-}
			if [ -n "$to" ] && ! allowed "$layer" "$to"; then
				echo "$a: $layer calls $sym of $to, a layer above it or beside it" >&2
				bad=1
			fi
		done < <(nm -g --undefined-only "$a" 2>/dev/null | awk 'NF == 2 { print $2 }' | sort -u)
	done
	return $bad
}

# A one-function archive for layer $2 in dir $1: defines $3, calls $4 (if given).
archive() {
	local dir=$1 layer=$2 def=$3 use=${4:-}
	if [ -n "$use" ]; then
		printf 'void %s(void);\nvoid %s(void);\nvoid %s(void) { %s(); }\n' "$use" "$def" "$def" "$use"
	else
		printf 'void %s(void);\nvoid %s(void) {}\n' "$def" "$def"
	fi >"$dir/$layer.c"
	${CC:-cc} -c -o "$dir/$layer.o" "$dir/$layer.c"
	rm -f "$dir/$layer.a"
	${AR:-ar} rcs "$dir/$layer.a" "$dir/$layer.o"
}

if [ "${1:-}" = --self-test ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/src/plan" "$tmp/src/store" "$tmp/src/sync" "$tmp/src/client" "$tmp/src/model" \
		"$tmp/src/ingest"
	printf '#include "model/org.h"\n' >"$tmp/src/plan/ok.c"
	printf '#include "format/names.h"\n' >"$tmp/src/ingest/ok.c"
	mkdir -p "$tmp/src/format"
	printf '#include "plan/plan.h"\n' >"$tmp/src/format/ok.c"
	check "$tmp/src" || { echo "check-layers: a downward include was refused" >&2; exit 1; }
	printf '#include "format/names.h"\n' >"$tmp/src/plan/up.c"
	if check "$tmp/src" 2>/dev/null; then
		echo "check-layers: plan including format was not caught" >&2
		exit 1
	fi
	rm "$tmp/src/plan/up.c"
	printf '#include "format/names.h"\n' >"$tmp/src/model/up.c"
	if check "$tmp/src" 2>/dev/null; then
		echo "check-layers: model including format was not caught" >&2
		exit 1
	fi
	rm "$tmp/src/model/up.c"
	printf '#include "store/store.h"\n' >"$tmp/src/plan/up.c"
	if check "$tmp/src" 2>/dev/null; then
		echo "check-layers: plan including store was not caught" >&2
		exit 1
	fi
	rm "$tmp/src/plan/up.c"
	printf '#include "store/store.h"\n' >"$tmp/src/sync/ok.c"
	check "$tmp/src" || { echo "check-layers: sync including store was refused" >&2; exit 1; }
	printf '#include "server/service.h"\n' >"$tmp/src/sync/up.c"
	if check "$tmp/src" 2>/dev/null; then
		echo "check-layers: sync including server was not caught" >&2
		exit 1
	fi
	rm "$tmp/src/sync/up.c"
	printf '#include "server/http.h"\n' >"$tmp/src/client/side.c"
	if check "$tmp/src" 2>/dev/null; then
		echo "check-layers: client including server was not caught" >&2
		exit 1
	fi
	mkdir -p "$tmp/lib"
	archive "$tmp/lib" util util_fn
	archive "$tmp/lib" plan plan_fn util_fn
	check_archives "$tmp/lib" || { echo "check-layers: a downward call was refused" >&2; exit 1; }
	archive "$tmp/lib" util util_fn plan_fn
	if check_archives "$tmp/lib" 2>/dev/null; then
		echo "check-layers: util calling plan was not caught" >&2
		exit 1
	fi
	echo "check-layers: self-test ok"
	exit 0
fi

if [ "${1:-}" = --archives ]; then
	check_archives "${2:?usage: check-layers.sh --archives DIR}"
	echo "check-layers: every call between layers points down"
	exit 0
fi

check "${1:-src}"
echo "check-layers: every include points down"
