//go:build darwin || freebsd || ios || netbsd

package reader

import "syscall"

// setCtime sets the status change time of st.
func setCtime(st *syscall.Stat_t, ts syscall.Timespec) { st.Ctimespec = ts }
