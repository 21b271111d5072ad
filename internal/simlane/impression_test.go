package simlane

import (
	"testing"

	"ttpgate/match"
	"ttpgate/match/template"
)

func TestScenarioSamplesMatchAsScripted(t *testing.T) {
	s, err := LoadSamples()
	if err != nil {
		t.Fatal(err)
	}
	dec := func(b []byte) *template.Template {
		tp, err := template.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	m := match.Matcher{}
	enrolled := []*template.Template{dec(s.Enrolled)}
	g, ok, err := m.Verify(dec(s.Genuine), enrolled)
	if err != nil || !ok {
		t.Fatalf("the genuine impression must match its enrolment: score %.3f, %v", g, err)
	}
	i, ok, err := m.Verify(dec(s.Impostor), enrolled)
	if err != nil || ok {
		t.Fatalf("the impostor must not match: score %.3f, %v", i, err)
	}
	if len(s.Genuine) == len(s.Enrolled) && string(s.Genuine) == string(s.Enrolled) {
		t.Fatal("the genuine sample must be another impression, not the enrolment's bytes")
	}
	t.Logf("genuine %.3f impostor %.3f", g, i)
}
