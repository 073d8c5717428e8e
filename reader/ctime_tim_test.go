//go:build android || dragonfly || illumos || linux || openbsd || solaris

package reader

import "syscall"

// setCtime sets the status change time of st.
func setCtime(st *syscall.Stat_t, ts syscall.Timespec) { st.Ctim = ts }
