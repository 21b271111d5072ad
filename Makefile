# ttpgate: the two commands are `make demo` and `make test`. Each does its own set-up.
GO ?= go
ARGS ?=
export CGO_ENABLED = 1

.PHONY: demo test setup build fuzz bench pgo clean

setup:
	@./scripts/setup.sh

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

build: setup
	$(GO) build -ldflags "-X ttpgate/internal/daemon.Version=$(VERSION)" -o bin/ ./cmd/...

## demo: a whole gate lane on this machine (embedded NATS, simulated devices, scripted travellers)
demo: build
	./bin/gated demo $(ARGS)

## test: the full suite, with the race detector
test: setup
	$(GO) vet ./...
	# -pgo=off: the tests need no profile, and with it cmd/*'s dependencies would be compiled twice
	$(GO) test -race -pgo=off -count=1 -timeout 14m ./...
	# the matcher again without its AVX-512 kernels (the scalar loops that other CPUs run)
	$(GO) test -race -tags purego -pgo=off -count=1 ./match/
	# and built for x86-64-v3, where the compiler fuses multiply-adds: the kernels must still equal the scalar loops
	GOAMD64=v3 $(GO) test -pgo=off -count=1 ./match/

## fuzz: run every fuzz target for FUZZTIME each (not part of `make test`; found crashers are kept in testdata/fuzz)
FUZZTIME ?= 30s
fuzz: setup
	./scripts/fuzz.sh $(FUZZTIME)

## pgo: regenerate the profiles for profile-guided optimisation (cmd/*/default.pgo) after changing the matcher or extractor
pgo: setup
	./scripts/pgo.sh

bench: build
	$(GO) test -run XXX -bench . -benchmem ./...

clean:
	rm -rf bin .demo
