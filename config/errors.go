package config

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a configuration error: the variable to fix and why. Every error
// Load returns, and every configuration error found later at start-up (a
// SQLITE_PATH whose directory cannot be created, say), is an *Error; it
// wraps ErrInvalid, or ErrInsecure for a production configuration refused
// outside --dev, so that callers branch with errors.Is and map both to exit
// code 2 in one place.
type Error struct {
	// Var is the environment variable to fix (e.g. "SQLITE_PATH"); empty
	// for a command-line usage error.
	Var string
	// Err is the cause; its text names Var.
	Err error
	// Insecure marks a refused insecure configuration (ErrInsecure).
	Insecure bool
}

// Error returns "config: invalid configuration: <cause>" (or the insecure
// variant).
func (e *Error) Error() string {
	return e.kind().Error() + ": " + e.Err.Error()
}

// Unwrap returns ErrInvalid (or ErrInsecure) and the cause.
func (e *Error) Unwrap() []error { return []error{e.kind(), e.Err} }

func (e *Error) kind() error {
	if e.Insecure {
		return ErrInsecure
	}
	return ErrInvalid
}

// Errorf returns an *Error about variable whose cause is fmt.Errorf(format,
// args...). The message should name the variable; Errorf prefixes it when it
// does not. (The text is searched to compose the message, not to classify
// an error: callers branch on ErrInvalid/ErrInsecure and Error.Var.)
func Errorf(variable, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	if variable != "" && !strings.Contains(err.Error(), variable) {
		err = fmt.Errorf("%s: %w", variable, err)
	}
	return &Error{Var: variable, Err: err}
}

// insecuref is Errorf for a refused insecure production setting
// (ErrInsecure).
func insecuref(variable, format string, args ...any) *Error {
	e := Errorf(variable, format, args...)
	e.Insecure = true
	return e
}

// IsConfig reports whether err is a configuration error (ErrInvalid or
// ErrInsecure), which the revocd command exits with code 2 for.
func IsConfig(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrInsecure)
}
