#!/bin/sh
# Regenerates the profiles that profile-guided optimisation uses when gated
# and gatebench are built (cmd/*/default.pgo; go build picks them up).
# The profile is the lane's hot path: image extraction and verification.
# Run it after changing the matcher or the extractor (make pgo).
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -run XXX -bench '^BenchmarkVerification$' -benchtime 6s -cpuprofile "$dir/match.prof" -o "$dir/match.test" ./match/
go test -run XXX -bench '^BenchmarkExtract$' -benchtime 4s -cpuprofile "$dir/extract.prof" -o "$dir/extract.test" ./match/extract/
go tool pprof -proto "$dir/match.prof" "$dir/extract.prof" > "$dir/default.pgo"
for cmd in gated gatebench; do
	cp "$dir/default.pgo" "cmd/$cmd/default.pgo"
done
ls -l cmd/*/default.pgo
