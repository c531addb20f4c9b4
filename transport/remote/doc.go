// Package remote holds the protobuf messages revocd nodes exchange over
// hollywood actor remoting: EventBatch (committed, signed revocation events)
// and Hello (the anti-entropy digest). revocd.pb.go and revocd_vtproto.pb.go
// are generated from revocd.proto by `make proto` (protoc-gen-go and
// protoc-gen-go-vtproto v0.5.0, the version hollywood v1.0.5 uses) and
// checked in.
//
// Generated messages are plain structs: not safe for concurrent mutation,
// but safe to marshal from several goroutines at once once built.
package remote
