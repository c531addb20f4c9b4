package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
)

// printer writes results as indented JSON or as aligned "key: value" lines.
type printer struct {
	w    io.Writer
	json bool
}

// field is one line of human output.
type field struct {
	key   string
	value any
}

// result prints v as JSON, or fields for humans.
func (p *printer) result(v any, fields ...field) error {
	if p.json {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding output: %w", err)
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 1, ' ', 0)
	for _, f := range fields {
		if m, ok := f.value.(map[string]any); ok && len(m) > 0 {
			fmt.Fprintf(tw, "%s:\t\n", f.key)
			for _, k := range sortedKeys(m) {
				fmt.Fprintf(tw, "  %s:\t%s\n", k, human(m[k]))
			}
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", f.key, human(f.value))
	}
	return tw.Flush()
}

// line prints one compact JSON value per line (NDJSON) or a human line.
func (p *printer) line(v any, text string) error {
	if p.json {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding output: %w", err)
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(p.w, text)
	return err
}

func human(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case map[string]any:
		if len(x) == 0 {
			return "-"
		}
		b, _ := json.Marshal(x)
		return string(b)
	case *string:
		if x == nil {
			return "-"
		}
		return *x
	case string:
		return x
	case []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
