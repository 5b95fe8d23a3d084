package authjstest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// VectorsEnv names the variable .ci/run sets to a file of vectors freshly
// minted by @auth/core (testdata/authjs/mint.mjs), beside the committed set.
const VectorsEnv = "ALGA_TEST_AUTHJS_VECTORS"

// VectorFile is the JSON document mint.mjs writes.
type VectorFile struct {
	Generator       string   `json:"generator"`
	AuthCoreVersion string   `json:"auth_core_version"`
	MintedAt        int64    `json:"minted_at"`
	Vectors         []Vector `json:"vectors"`
}

// Vector is one cookie (or set of chunks) and what must become of it.
type Vector struct {
	Name       string            `json:"name"`
	Secret     string            `json:"secret"`
	CookieName string            `json:"cookie_name"`
	MintedAt   int64             `json:"minted_at"` // unix seconds; pin the clock here
	Cookies    map[string]string `json:"cookies"`
	// AuthjsDecode is what Auth.js' own reader (getToken) made of the
	// cookies at MintedAt: "ok" or "refused".
	AuthjsDecode string `json:"authjs_decode"`
	Expect       Expect `json:"expect"`
}

// Expect holds either the session the decoder must return or the name of
// the refusal it must give (no_cookie, too_large, chunks, malformed, header,
// decrypt, expired, not_yet_valid, claims).
type Expect struct {
	Session *ExpectedSession `json:"session,omitempty"`
	Refusal string           `json:"refusal,omitempty"`
}

// ExpectedSession is the decoded session, times in unix seconds.
type ExpectedSession struct {
	UserID    string `json:"user_id"`
	Tenant    string `json:"tenant"`
	UserType  string `json:"user_type"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	SessionID string `json:"session_id"`
	ExpiresAt int64  `json:"expires_at"`
	IssuedAt  int64  `json:"issued_at"`
}

// RepoDir returns the repository's testdata/authjs directory.
func RepoDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "authjs")
}

// CommittedVectors is the path of the vectors committed with the repository.
func CommittedVectors() string { return filepath.Join(RepoDir(), "vectors.json") }

// LoadVectors reads a vector file and checks it is not empty.
func LoadVectors(path string) (*VectorFile, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the committed vectors or the file .ci/run names in ALGA_TEST_AUTHJS_VECTORS
	if err != nil {
		return nil, err
	}
	var f VectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("authjstest: %s: %w", path, err)
	}
	if len(f.Vectors) == 0 {
		return nil, fmt.Errorf("authjstest: %s holds no vectors", path)
	}
	return &f, nil
}
