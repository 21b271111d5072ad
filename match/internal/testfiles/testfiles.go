// Package testfiles locates the shared test data (fingerprint templates and
// images) for the tests of the match packages. It is for tests only.
//
// The data lives in ../shared/testdata beside the module root (from
// match/template that is ../../../shared/testdata); the environment variable
// TTPGATE_TESTDATA overrides the location. A missing file fails the test with
// a message naming the path: it never skips.
package testfiles

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvVar is the environment variable that overrides the test data directory.
const EnvVar = "TTPGATE_TESTDATA"

// Dir returns the test data directory, failing tb if it cannot be found.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv(EnvVar); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("testfiles: cannot get the working directory to locate the test data: %v", err)
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "..", "shared", "testdata")
		}
		parent := filepath.Dir(d)
		if parent == d {
			tb.Fatalf("testfiles: no go.mod above %s, so the test data directory (../shared/testdata beside the module root) cannot be located; set %s", wd, EnvVar)
		}
		d = parent
	}
}

// Path returns the path of rel (slash-separated, relative to the test data
// directory), failing tb with the full path if the file does not exist.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(Dir(tb), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("testfiles: required test data file %s is missing (set %s to the test data directory): %v", p, EnvVar, err)
	}
	return p
}

// Read returns the content of rel, failing tb with the full path if it
// cannot be read.
func Read(tb testing.TB, rel string) []byte {
	tb.Helper()
	p := Path(tb, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatalf("testfiles: cannot read required test data file %s: %v", p, err)
	}
	return b
}
