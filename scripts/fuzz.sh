#!/bin/sh
# Runs every fuzz target of the module for the given time each (default 30s).
set -eu
t=${1:-30s}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "== $pkg $target"
		go test -run XXX -fuzz "^$target\$" -fuzztime "$t" "$pkg"
	done
done
