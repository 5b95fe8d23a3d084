//go:build !unix

package sqlstore

import (
	"fmt"
	"os"
)

// lockFile only creates the lock file where flock is unavailable: the
// single-instance guard is a Unix feature (the service ships for Linux).
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite lock file %s: %w", path, err)
	}
	return f, nil
}
