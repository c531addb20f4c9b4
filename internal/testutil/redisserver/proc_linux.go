//go:build linux

package redisserver

import "syscall"

// sysProcAttr asks the kernel to kill redis-server if the test binary dies
// without running its cleanups (panic, SIGKILL, go test -timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
