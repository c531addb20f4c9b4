package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryVariable keeps the README's configuration table
// current.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Variables() {
		if !strings.Contains(string(b), "| `"+v.Env+"` | `"+v.Flag+"` |") {
			t.Errorf("README.md lacks a row for %s (%s)", v.Env, v.Flag)
		}
	}
}
