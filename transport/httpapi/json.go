package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// writeJSON marshals v as the response body.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"detail":"Internal server error"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// decodeBody decodes a JSON request body into dst (a pointer to a struct).
// Unknown fields are ignored, as the seed's pydantic models did. Errors:
// 400 for an empty or malformed body, 422 for a field of the wrong type
// (naming the field).
func decodeBody(body []byte, dst any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return requestError(ErrMalformedBody, "Request body is empty; expected a JSON object")
	}
	if !utf8.Valid(body) {
		return requestError(ErrMalformedBody, "Malformed JSON body: invalid UTF-8")
	}
	if body[0] != '{' {
		if json.Valid(body) {
			return requestError(ErrInvalidField, "body: expected a JSON object")
		}
		return requestError(ErrMalformedBody, "Malformed JSON body")
	}
	// Decode the object's members first and then each field from its own
	// member: field names match exactly, as in the seed's pydantic models
	// (encoding/json alone would also take "Token" or "CHECK_REVOCATION"
	// for "token" and "check_revocation"); the last duplicate wins, as in
	// Python's json.
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return requestError(ErrMalformedBody, "Malformed JSON body: trailing data after the object")
	}
	v := reflect.ValueOf(dst).Elem()
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		raw, ok := obj[name]
		if !ok || name == "" || name == "-" {
			continue
		}
		fd := json.NewDecoder(bytes.NewReader(raw))
		fd.UseNumber()
		if err := fd.Decode(v.Field(i).Addr().Interface()); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				if te.Field == "" {
					te.Field = name
				} else {
					te.Field = name + "." + te.Field
				}
			}
			return jsonError(err)
		}
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return requestError(ErrInvalidField, "%s: expected %s, got %s", field, kindName(typeErr.Type.Kind().String()), typeErr.Value)
	}
	var synErr *json.SyntaxError
	if errors.As(err, &synErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return requestError(ErrMalformedBody, "Malformed JSON body")
	}
	// decodeBody refused invalid UTF-8 before decoding: every other
	// decoder error is malformed JSON.
	return requestError(ErrMalformedBody, "Malformed JSON body")
}

func kindName(k string) string {
	switch k {
	case "int", "int64", "int32", "uint64":
		return "an integer"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return k
}

// optString is a JSON string field that records whether it was present and
// rejects null and non-string values with the field's name.
type optString struct {
	Set   bool
	Value string
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) == 0 || b[0] != '"' {
		return &json.UnmarshalTypeError{Value: valueKind(b), Type: stringType}
	}
	o.Set = true
	return json.Unmarshal(b, &o.Value)
}

// optInt is a JSON integer field; floats with a fraction, strings and
// booleans are type errors.
type optInt struct {
	Set   bool
	Value int64
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optInt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var n json.Number
	if len(b) == 0 || !(b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) {
		return &json.UnmarshalTypeError{Value: valueKind(b), Type: int64Type}
	}
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	v, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil || f != float64(int64(f)) {
			return &json.UnmarshalTypeError{Value: "number " + string(b), Type: int64Type}
		}
		v = int64(f)
	}
	o.Set, o.Value = true, v
	return nil
}

// optBool is a JSON boolean field.
type optBool struct {
	Set   bool
	Value bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optBool) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		return nil
	case "true", "false":
		o.Set, o.Value = true, string(b) == "true"
		return nil
	}
	return &json.UnmarshalTypeError{Value: valueKind(b), Type: boolType}
}

func valueKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

var (
	stringType = reflect.TypeOf("")
	int64Type  = reflect.TypeOf(int64(0))
	boolType   = reflect.TypeOf(false)
)
