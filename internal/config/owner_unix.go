//go:build unix

package config

import (
	"io/fs"
	"syscall"
)

// fileOwner is the uid that owns fi, for the fix of a secret file the
// service may not read.
func fileOwner(fi fs.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
