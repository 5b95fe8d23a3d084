package authflow

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// errUnknownFamily: an access token names a token family (sid) this store
// never had, or one that belongs to someone else. Only a holder of a
// signing key could mint such a token, so it is refused, not trusted.
var errUnknownFamily = errors.New("token family unknown or not the token's owner")

// familyOwners remembers, per replica, who owns each token family that an
// access token has named. A family's owner never changes, so a positive
// answer is kept (bounded) and the store is asked once per family, not
// once per verification; revocation is the revocation view's business.
type familyOwners struct {
	src mobileauth.RefreshStore

	mu    sync.Mutex
	owner map[string]familyOwner
}

type familyOwner struct{ tenantID, userID string }

// maxKnownFamilies bounds the memory; past it the map starts afresh (a
// miss costs one store read).
const maxKnownFamilies = 100_000

func newFamilyOwners(src mobileauth.RefreshStore) *familyOwners {
	return &familyOwners{src: src, owner: map[string]familyOwner{}}
}

// check returns errUnknownFamily unless familyID exists and belongs to
// tenantID/userID; a store failure is returned as is.
func (f *familyOwners) check(ctx context.Context, familyID, tenantID, userID string) error {
	want := familyOwner{tenantID, userID}
	f.mu.Lock()
	got, ok := f.owner[familyID]
	f.mu.Unlock()
	if !ok {
		fam, err := f.src.GetFamily(ctx, familyID)
		if errors.Is(err, mobileauth.ErrNotFound) {
			return errUnknownFamily
		}
		if err != nil {
			return fmt.Errorf("read token family: %w", err)
		}
		got = familyOwner{fam.TenantID, fam.UserID}
		f.mu.Lock()
		if len(f.owner) >= maxKnownFamilies {
			clear(f.owner)
		}
		f.owner[familyID] = got
		f.mu.Unlock()
	}
	if got != want {
		return errUnknownFamily
	}
	return nil
}
