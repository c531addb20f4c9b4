// Package redisserver runs a real redis-server process for tests.
//
// Each Server listens on a free loopback port, keeps its data directory in
// the test's t.TempDir() and runs with appendonly enabled, so Stop followed
// by Restart simulates a Redis outage without losing data. Servers are
// stopped automatically in t.Cleanup.
//
// The package never skips: a missing redis-server binary fails the test with
// an installation hint, so CI cannot silently lose its Redis coverage.
package redisserver
