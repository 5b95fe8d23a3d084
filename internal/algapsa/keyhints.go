package algapsa

import "sync"

// keyHints remembers, per family, the key this replica minted for it last,
// so that the family's next mint can end that one key through the primary
// key instead of reading every key of the user through AlgaPSA's user_id
// index (inactive keys are kept 7 days: a phone refreshing every 15
// minutes leaves about 670 a week, each read to end one).
//
// A hint is only ever a shortcut, checked by the statement that uses it
// (deactivateHinted): a family has at most one active key, because every
// mint ends what was active under the family's lock, so a remembered key
// that is still active, of that family and owner, is the only one. When it
// is not (another replica minted since, the family was revoked, the sweep
// ended it), the same statement ends the family's keys the long way.
type keyHints struct {
	mu   sync.Mutex
	last map[string]string // family id → api_key_id
}

// maxKeyHints bounds the memory (about 120 bytes a family); past it the
// map starts afresh, and a family without a hint takes the long way once.
const maxKeyHints = 20_000

func newKeyHints() *keyHints { return &keyHints{last: map[string]string{}} }

func (h *keyHints) get(familyID string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id, ok := h.last[familyID]
	return id, ok
}

func (h *keyHints) set(familyID, keyID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.last[familyID]; !ok && len(h.last) >= maxKeyHints {
		clear(h.last)
	}
	h.last[familyID] = keyID
}

func (h *keyHints) forget(familyID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.last, familyID)
}
