#!/bin/sh
# Installs what the build needs and Go modules cannot bring: a C compiler for cgo (SQLite).
# Runs as root on Debian; does nothing when everything is present.
set -eu
need=""
command -v gcc >/dev/null 2>&1 || need="$need gcc libc6-dev"
if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup: missing Debian packages:$need (run as root or install them)" >&2
		exit 1
	fi
	echo "setup: installing$need" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
fi
go mod download
