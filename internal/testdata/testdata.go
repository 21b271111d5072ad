// Package testdata finds the project's shared test data (../shared/testdata beside the checkout,
// or the folder named by TTPGATE_TESTDATA) and reads files from it. A missing file is an error
// that names the path looked for: tests fail on it, they never skip.
package testdata

import (
	"fmt"
	"os"
	"path/filepath"
)

// Env is the environment variable that names the test data folder.
const Env = "TTPGATE_TESTDATA"

// Dir returns the test data folder: $TTPGATE_TESTDATA, or the first shared/testdata found beside
// the working folder or one of its parents.
func Dir() (string, error) {
	if d := os.Getenv(Env); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", fmt.Errorf("%s=%s: %w", Env, d, err)
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	var tried []string
	for dir := wd; ; dir = filepath.Dir(dir) {
		for _, c := range []string{filepath.Join(dir, "shared", "testdata"), filepath.Join(dir, "..", "shared", "testdata")} {
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return filepath.Clean(c), nil
			}
			tried = append(tried, filepath.Clean(c))
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return "", fmt.Errorf("test data folder not found (set %s); looked for %s", Env, tried[1])
}

// Read reads a file below the test data folder, e.g. Read("templates", "sourceafis-iso-probe.dat").
func Read(elem ...string) ([]byte, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(append([]string{dir}, elem...)...)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("test data file missing: %s: %w", p, err)
	}
	return data, nil
}
