package display

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// defaultCatalogs is the copy of configs/display built into the binary: the display works with
// no catalogue folder at all. A test checks that it equals configs/display.
//
//go:embed catalog/*.json
var defaultCatalogs embed.FS

// Fallback is the language used for a missing translation and for a traveller with no
// preferred language.
const Fallback = "en"

// Home is the language always shown (the airport's own).
const Home = "ja"

// Catalog holds the messages of one language, keyed (see RequiredKeys).
type Catalog struct {
	Lang     string            // BCP 47 tag, from the file name: "zh-Hant.json" is zh-Hant
	Name     string            // the language's own name ("language.name")
	Messages map[string]string // key -> message; placeholders {finger}, {n}, {m}
	Source   string            // where it was loaded from (file path, or "built-in")
}

// Catalogs is every loaded language.
type Catalogs struct {
	byLang map[string]*Catalog // lower-cased tag -> catalogue
	order  []string            // tags, Home first, Fallback second, then by tag
}

// RequiredKeys lists every message key the traveller page may use. ja and en must have all of
// them; other languages fall back to English key by key.
func RequiredKeys() []string {
	keys := []string{"language.name", "attempt"}
	for _, s := range Screens {
		keys = append(keys, s+".title", s+".body")
	}
	for f := 0; f <= 10; f++ {
		keys = append(keys, "finger."+strconv.Itoa(f))
	}
	for _, r := range ShownReasons {
		keys = append(keys, "reason."+r)
	}
	return keys
}

// ReaderKeys lists the reader-display texts (OSDP TEXT: printable ASCII). English must have them;
// a language without them, or with non-ASCII text, falls back to English on the reader.
func ReaderKeys() []string {
	keys := make([]string, 0, len(Screens))
	for _, s := range Screens {
		keys = append(keys, "reader."+s)
	}
	return keys
}

// LoadCatalogs reads every *.json file in dir (one language a file, named by its BCP 47 tag)
// over the built-in catalogues: a file replaces the built-in copy of its language, and a new file
// adds a language. dir "" or a missing dir gives the built-in catalogues alone. A file that
// cannot be read or parsed is an error naming the file.
func LoadCatalogs(dir string) (*Catalogs, error) {
	cs := &Catalogs{byLang: map[string]*Catalog{}}
	builtin, _ := fs.Glob(defaultCatalogs, "catalog/*.json")
	for _, name := range builtin {
		b, err := defaultCatalogs.ReadFile(name)
		if err != nil {
			return nil, err
		}
		if err := cs.add(path.Base(name), b, "built-in "+name); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("display catalogues: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
				continue
			}
			p := dir + string(os.PathSeparator) + e.Name()
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("display catalogue: %w", err)
			}
			if err := cs.add(e.Name(), b, p); err != nil {
				return nil, err
			}
		}
	}
	for _, must := range []string{Home, Fallback} {
		if cs.byLang[strings.ToLower(must)] == nil {
			return nil, fmt.Errorf("display catalogues: no %s catalogue (expected %s.json)", must, must)
		}
	}
	cs.order = nil
	for _, c := range cs.byLang {
		cs.order = append(cs.order, c.Lang)
	}
	rank := func(t string) int {
		switch t {
		case Home:
			return 0
		case Fallback:
			return 1
		}
		return 2
	}
	sort.Slice(cs.order, func(i, j int) bool {
		a, b := cs.order[i], cs.order[j]
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		return a < b
	})
	return cs, nil
}

func (cs *Catalogs) add(file string, data []byte, source string) error {
	tag := strings.TrimSuffix(file, ".json")
	if !validTag(tag) {
		return fmt.Errorf("display catalogue %s: file name must be a BCP 47 language tag such as en.json or zh-Hant.json", source)
	}
	msgs := map[string]string{}
	if err := json.Unmarshal(data, &msgs); err != nil {
		return fmt.Errorf("display catalogue %s: %v (expected one JSON object of \"key\": \"message\" strings)", source, err)
	}
	c := &Catalog{Lang: tag, Name: msgs["language.name"], Messages: msgs, Source: source}
	if c.Name == "" {
		c.Name = tag
	}
	cs.byLang[strings.ToLower(tag)] = c
	return nil
}

func validTag(tag string) bool {
	if tag == "" || len(tag) > 35 {
		return false
	}
	for i, sub := range strings.Split(tag, "-") {
		if sub == "" || len(sub) > 8 || (i == 0 && (len(sub) < 2 || len(sub) > 3)) {
			return false
		}
		for _, r := range sub {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

// Languages returns the loaded language tags: Home first, Fallback second, then the others.
func (cs *Catalogs) Languages() []string { return append([]string(nil), cs.order...) }

// Get returns the catalogue of an exact tag (case-insensitive), or nil.
func (cs *Catalogs) Get(tag string) *Catalog { return cs.byLang[strings.ToLower(tag)] }

// Match picks the catalogue for a traveller's preferred language (a BCP 47 tag from the
// registry): the exact tag; Chinese by script (zh-TW, zh-HK, zh-MO → zh-Hant; zh, zh-CN, zh-SG
// → zh-Hans); then the tag's shorter prefixes (en-GB → en); English when nothing matches.
func (cs *Catalogs) Match(tag string) string {
	t := strings.ToLower(strings.TrimSpace(strings.ReplaceAll(tag, "_", "-")))
	if t == "" {
		return Fallback
	}
	if c := cs.byLang[t]; c != nil {
		return c.Lang
	}
	parts := strings.Split(t, "-")
	if parts[0] == "zh" || parts[0] == "cmn" || parts[0] == "yue" {
		script := "zh-hans"
		for _, p := range parts[1:] {
			switch p {
			case "hant", "tw", "hk", "mo":
				script = "zh-hant"
			case "hans", "cn", "sg":
				script = "zh-hans"
			}
			if p == "hant" || p == "hans" {
				break
			}
		}
		if parts[0] == "yue" && len(parts) == 1 {
			script = "zh-hant"
		}
		if c := cs.byLang[script]; c != nil {
			return c.Lang
		}
	}
	for i := len(parts) - 1; i > 0; i-- {
		if c := cs.byLang[strings.Join(parts[:i], "-")]; c != nil {
			return c.Lang
		}
	}
	return Fallback
}

// Text returns the message for key in lang, falling back to English, then to the key itself
// (a visible mistake rather than a blank).
func (cs *Catalogs) Text(lang, key string) string {
	if c := cs.Get(lang); c != nil {
		if m, ok := c.Messages[key]; ok && m != "" {
			return m
		}
	}
	if m := cs.Get(Fallback).Messages[key]; m != "" {
		return m
	}
	return key
}

// Missing returns, per language, the keys of RequiredKeys (and ReaderKeys for English) that its
// catalogue lacks, sorted; languages with nothing missing are left out.
func (cs *Catalogs) Missing() map[string][]string {
	out := map[string][]string{}
	for _, lang := range cs.order {
		c := cs.Get(lang)
		keys := RequiredKeys()
		if lang == Fallback {
			keys = append(keys, ReaderKeys()...)
		}
		for _, k := range keys {
			if c.Messages[k] == "" {
				out[lang] = append(out[lang], k)
			}
		}
		sort.Strings(out[lang])
		if len(out[lang]) == 0 {
			delete(out, lang)
		}
	}
	return out
}
