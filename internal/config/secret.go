package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Secret is a configuration value that must never be printed. Its String
// and GoString redact it, so a stray %v or a logged struct leaks nothing.
type Secret string

// String redacts the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the value for %#v.
func (s Secret) GoString() string { return s.String() }

// Value returns the clear value; call it only where the secret is used.
func (s Secret) Value() string { return string(s) }

// Set reports whether the secret resolved to a non-empty value.
func (s Secret) Set() bool { return s != "" }

// SecretSource says where a secret came from, for `check`; never the value.
type SecretSource string

// Secret sources in resolution order.
const (
	FromSecretsDir SecretSource = "secrets directory"
	FromFileVar    SecretSource = "_FILE variable"
	FromEnv        SecretSource = "environment"
	FromNowhere    SecretSource = "unset"
)

// secretResolver implements AlgaPSA's secret-provider order (SPEC §2): a
// file named exactly like the variable in the secrets directory wins, then
// one named like it in lower case (SPEC §8.1), then <VAR>_FILE, then the
// variable itself. Values are trimmed.
type secretResolver struct {
	lookup func(string) (string, bool)
	dir    string
}

func newSecretResolver(lookup func(string) (string, bool)) secretResolver {
	dir, ok := lookup("SECRET_FS_BASE_PATH")
	dir = strings.TrimSpace(dir)
	if !ok || dir == "" {
		dir = ""
		if st, err := os.Stat("/run/secrets"); err == nil && st.IsDir() {
			dir = "/run/secrets"
		}
	}
	return secretResolver{lookup: lookup, dir: dir}
}

// resolve returns the secret and where it came from. An unreadable
// <VAR>_FILE is an error naming the variable and path, never the content.
func (r secretResolver) resolve(name string) (Secret, SecretSource, error) {
	if r.dir != "" {
		// The exact name first, then the lower-case name that AlgaPSA's own
		// compose install mounts (db_password_server, nextauth_secret, …).
		files := []string{name}
		if lower := strings.ToLower(name); lower != name {
			files = append(files, lower)
		}
		for _, file := range files {
			b, err := os.ReadFile(filepath.Join(r.dir, file)) //nolint:gosec // G304: the operator's secrets directory; reading it is the point
			switch {
			case err == nil && strings.TrimSpace(string(b)) != "":
				return Secret(strings.TrimSpace(string(b))), FromSecretsDir, nil
			case err == nil:
				// An empty file (a placeholder mount) does not hide the other
				// sources; treating it as "unset" would silently mask them.
			case !errors.Is(err, fs.ErrNotExist):
				return "", FromSecretsDir, fmt.Errorf("cannot read %s from the secrets directory %s: %w", file, r.dir, unwrapPathError(err))
			}
		}
	}
	if path, ok := r.lookup(name + "_FILE"); ok && strings.TrimSpace(path) != "" {
		path = strings.TrimSpace(path)
		b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names this file in <NAME>_FILE; reading it is the point
		if err != nil {
			return "", FromFileVar, fmt.Errorf("%s_FILE points at %s, which cannot be read: %w", name, path, unwrapPathError(err))
		}
		return Secret(strings.TrimSpace(string(b))), FromFileVar, nil
	}
	if v, ok := r.lookup(name); ok && strings.TrimSpace(v) != "" {
		return Secret(strings.TrimSpace(v)), FromEnv, nil
	}
	return "", FromNowhere, nil
}

// lookedIn says where resolve looked for name, which resolved to nothing
// from src: for an operator wondering why their secret was not found.
func (r secretResolver) lookedIn(name string, src SecretSource) string {
	if src == FromFileVar {
		return name + "_FILE names an empty file"
	}
	where := "looked for in the " + name + " variable, " + name + "_FILE, and the files " + name
	if lower := strings.ToLower(name); lower != name {
		where += " and " + lower
	}
	if r.dir == "" {
		return where + " in a secrets directory, but there is none (SECRET_FS_BASE_PATH is unset and /run/secrets does not exist)"
	}
	return where + " in " + r.dir
}

// unwrapPathError keeps the OS reason ("permission denied") without
// repeating the path.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
