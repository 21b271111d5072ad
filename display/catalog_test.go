package display

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// configDir is the catalogue folder shipped in configs/ (the one a translator edits).
const configDir = "../configs/display"

// TestCatalogKeys lists every key missing in every catalogue (configs/display and the built-in
// copy). ja and en must be complete (en also has the reader texts); other languages are
// reported, and fall back to English key by key.
func TestCatalogKeys(t *testing.T) {
	cs, err := LoadCatalogs(configDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ja", "en", "zh-Hans", "zh-Hant", "ko"} {
		if cs.Get(want) == nil {
			t.Errorf("no %s catalogue in %s", want, configDir)
		}
	}
	missing := cs.Missing()
	for _, lang := range cs.Languages() {
		keys := missing[lang]
		switch {
		case len(keys) == 0:
			t.Logf("%-8s complete (%d keys)", lang, len(cs.Get(lang).Messages))
		case lang == Home || lang == Fallback:
			t.Errorf("%s catalogue (%s) misses required keys: %s", lang, cs.Get(lang).Source, strings.Join(keys, ", "))
		default:
			t.Logf("%-8s MISSING (English shown instead): %s", lang, strings.Join(keys, ", "))
		}
	}
	// Keys nobody uses are typos: report them as errors.
	known := map[string]bool{"language.dir": true}
	for _, k := range append(RequiredKeys(), ReaderKeys()...) {
		known[k] = true
	}
	for _, lang := range cs.Languages() {
		var extra []string
		for k := range cs.Get(lang).Messages {
			if !known[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			t.Errorf("%s: unknown keys (typo?): %s", cs.Get(lang).Source, strings.Join(extra, ", "))
		}
	}
	// Placeholders: a translation keeps the ones of the English message.
	en := cs.Get(Fallback).Messages
	for _, lang := range cs.Languages() {
		for k, m := range cs.Get(lang).Messages {
			for _, ph := range []string{"{finger}", "{n}", "{m}"} {
				if strings.Contains(en[k], ph) != strings.Contains(m, ph) {
					t.Errorf("%s: %s: placeholder %s in English %q but not in %q (or the reverse)", lang, k, ph, en[k], m)
				}
			}
		}
	}
}

// TestBuiltinCatalogsMatchConfigs: the copy built into the binary (display/catalog) is the
// same as configs/display, so a gate without the folder shows the same words.
func TestBuiltinCatalogsMatchConfigs(t *testing.T) {
	cfg, _ := filepath.Glob(filepath.Join(configDir, "*.json"))
	if len(cfg) == 0 {
		t.Fatalf("no catalogues in %s", configDir)
	}
	for _, p := range cfg {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := defaultCatalogs.ReadFile("catalog/" + filepath.Base(p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("display/catalog/%s differs from %s: copy it (cp %s display/catalog/)", filepath.Base(p), p, p)
		}
	}
}

func TestFallbackToEnglish(t *testing.T) {
	dir := t.TempDir()
	// A new language added by a translator, half done.
	if err := os.WriteFile(filepath.Join(dir, "fr.json"), []byte(`{"language.name": "Français", "proceed.title": "Avancez, s'il vous plaît"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cs, err := LoadCatalogs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.Text("fr", "proceed.title"); got != "Avancez, s'il vous plaît" {
		t.Errorf("fr proceed.title = %q", got)
	}
	if got := cs.Text("fr", "wait.title"); got != "Please wait" {
		t.Errorf("fr wait.title = %q, want the English fallback", got)
	}
	if got := cs.Text("xx", "wait.title"); got != "Please wait" {
		t.Errorf("unknown language: %q", got)
	}
	if len(cs.Missing()["fr"]) == 0 {
		t.Error("fr: missing keys not reported")
	}
	langs := cs.Languages()
	if langs[0] != "ja" || langs[1] != "en" || !contains(langs, "fr") || !contains(langs, "ko") {
		t.Errorf("languages %v: want ja, en first, built-in ones kept, fr added", langs)
	}
}

func TestLoadCatalogErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "de.json"), []byte(`{"proceed.title": 3}`), 0o644)
	if _, err := LoadCatalogs(dir); err == nil || !strings.Contains(err.Error(), "de.json") {
		t.Errorf("bad catalogue: err %v, want one naming de.json", err)
	}
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "not a tag.json"), []byte(`{}`), 0o644)
	if _, err := LoadCatalogs(dir); err == nil {
		t.Error("file name that is no language tag accepted")
	}
	if _, err := LoadCatalogs(filepath.Join(t.TempDir(), "absent")); err != nil {
		t.Errorf("missing folder: %v, want the built-in catalogues", err)
	}
}

func TestMatchLanguage(t *testing.T) {
	cs, err := LoadCatalogs("")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"": "en", "en": "en", "EN-gb": "en", "ja": "ja", "ja-JP": "ja", "ko-KR": "ko", "ko": "ko",
		"zh": "zh-Hans", "zh-CN": "zh-Hans", "zh-Hans": "zh-Hans", "zh-Hans-CN": "zh-Hans", "zh-SG": "zh-Hans",
		"zh-TW": "zh-Hant", "zh-HK": "zh-Hant", "zh-hant": "zh-Hant", "zh-Hant-TW": "zh-Hant", "zh_TW": "zh-Hant",
		"yue": "zh-Hant", "fr": "en", "x": "en",
	} {
		if got := cs.Match(in); got != want {
			t.Errorf("Match(%q) = %q, want %q", in, got, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
