package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

// TestConfigFieldsDocumented: every field of Config says what it is and
// which variable sets it (a doc comment naming the variable in
// parentheses), so that a field added without documentation fails here.
func TestConfigFieldsDocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		found = true
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			for _, name := range field.Names {
				if name.IsExported() && (field.Doc == nil || len(field.Doc.Text()) < len(name.Name)+8) {
					t.Errorf("Config.%s has no doc comment", name.Name)
				}
			}
		}
		return false
	})
	if !found {
		t.Fatal("type Config not found in config.go")
	}
}
