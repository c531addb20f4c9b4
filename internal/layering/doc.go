// Package layering holds no code: its test pins the import layering of the
// module in one table (which package may depend on what), so that a change
// that makes a pure package do I/O, or makes a lower layer call back up into
// a higher one, fails `go test` instead of review.
package layering
