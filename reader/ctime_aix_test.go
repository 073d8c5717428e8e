package reader

import "syscall"

// setCtime sets the status change time of st, whose nanoseconds are an
// int32 on AIX.
func setCtime(st *syscall.Stat_t, ts syscall.Timespec) {
	st.Ctim.Sec, st.Ctim.Nsec = ts.Sec, int32(ts.Nsec)
}
