#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (make pg-check, tests/e2e with
# ORGSYNC_DB=postgres), from Debian's postgresql package.
#   pg-cluster.sh start DIR   initdb in DIR (made if missing), start the server
#                             on a free loopback port, print the URL prefix
#                             (postgresql://postgres@127.0.0.1:PORT/): add a
#                             database name to it
#   pg-cluster.sh url DIR     print the URL prefix of the cluster running in DIR
#   pg-cluster.sh stop DIR    stop the server and remove DIR
# Trust authentication on 127.0.0.1 only, its socket in DIR, durability off
# (fsync, full page writes): nothing here outlives the run. initdb refuses
# to run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail

usage() {
	echo "usage: $0 start|url|stop DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
	echo "$0: PostgreSQL is not installed (scripts/install-deps.sh test)" >&2
	exit 1
fi

as_owner=()
if [ "$(id -u)" -eq 0 ]; then
	as_owner=(runuser -u postgres --)
fi

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case $cmd in
start)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ ${#as_owner[@]} -gt 0 ]; then
		chown postgres: "$dir"
		# The server needs to reach its folder through every parent.
		p=$dir
		while [ "$p" != / ]; do
			p=$(dirname "$p")
			"${as_owner[@]}" test -x "$p" || chmod o+x "$p"
		done
	fi
	"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth=trust >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	# A port can be taken between the choice and the start: try a few.
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		if "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
			-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off \
			    -c full_page_writes=off -c synchronous_commit=off -c max_connections=300 \
			    -c shared_buffers=128MB" start >/dev/null; then
			echo "$port" >"$dir/port"
			echo "postgresql://postgres@127.0.0.1:$port/"
			exit 0
		fi
	done
	echo "$0: the server did not start:" >&2
	tail -n 20 "$dir/server.log" >&2
	exit 1
	;;
url)
	[ -f "$dir/port" ] || {
		echo "$0: no cluster runs in $dir" >&2
		exit 1
	}
	echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")/"
	;;
stop)
	if [ -d "$dir/data" ]; then
		"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
*)
	usage
	;;
esac
