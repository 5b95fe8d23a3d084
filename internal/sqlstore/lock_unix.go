//go:build unix

package sqlstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// lockFile takes an exclusive, non-blocking flock on path. The kernel drops
// it when the descriptor closes or the process dies, so a crashed server
// never leaves a stale lock behind.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) //nolint:gosec // G304: the lock file beside the operator's configured database
	if err != nil {
		return nil, fmt.Errorf("open sqlite lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		closeErr := f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by another alga-mobile-auth process; "+
				"SQLite serves one instance only, so run replicas against PostgreSQL", mobileauth.ErrStoreLocked, path)
		}
		return nil, errors.Join(fmt.Errorf("lock %s: %w", path, err), closeErr)
	}
	return f, nil
}
