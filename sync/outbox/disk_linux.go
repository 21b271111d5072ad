package outbox

import "syscall"

// freeDisk returns the bytes available to this user on dir's file system, -1 if unknown.
func freeDisk(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
