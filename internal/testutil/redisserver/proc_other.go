//go:build !linux

package redisserver

import "syscall"

// sysProcAttr returns nil: only Linux offers a parent-death signal.
func sysProcAttr() *syscall.SysProcAttr { return nil }
