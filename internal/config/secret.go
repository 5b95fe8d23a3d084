package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
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
	// readFile and stat are os.ReadFile and os.Stat; uid is the process's
	// user id, named in the fix for a file it may not read. Tests replace
	// them (a test running as root can read every file).
	readFile func(string) ([]byte, error)
	stat     func(string) (fs.FileInfo, error)
	uid      int
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
	return secretResolver{lookup: lookup, dir: dir, readFile: os.ReadFile, stat: os.Stat, uid: os.Getuid()}
}

// secretFileError is a secret file that is there (or named) but cannot be
// read. It says why in resolve's words and carries the fix, which for a
// permission problem names the user the service runs as.
type secretFileError struct {
	msg string
	fix string
	err error // the OS reason
}

func (e *secretFileError) Error() string { return e.msg }
func (e *secretFileError) Unwrap() error { return e.err }

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
			path := filepath.Join(r.dir, file)
			b, err := r.readFile(path)
			switch {
			case err == nil && strings.TrimSpace(string(b)) != "":
				return Secret(strings.TrimSpace(string(b))), FromSecretsDir, nil
			case err == nil:
				// An empty file (a placeholder mount) does not hide the other
				// sources; treating it as "unset" would silently mask them.
			case !errors.Is(err, fs.ErrNotExist):
				return "", FromSecretsDir, &secretFileError{
					msg: fmt.Sprintf("cannot read %s from the secrets directory %s: %v", file, r.dir, unwrapPathError(err)),
					fix: r.unreadableFix(path, "secrets/"+file, err),
					err: err,
				}
			}
		}
	}
	if path, ok := r.lookup(name + "_FILE"); ok && strings.TrimSpace(path) != "" {
		path = strings.TrimSpace(path)
		b, err := r.readFile(path)
		if err != nil {
			fix := r.unreadableFix(path, "", err)
			if errors.Is(err, fs.ErrNotExist) {
				fix = "point " + name + "_FILE at the file that holds " + name + " (as the service sees it, inside its container), or unset " + name + "_FILE"
			}
			return "", FromFileVar, &secretFileError{
				msg: fmt.Sprintf("%s_FILE points at %s, which cannot be read: %v", name, path, unwrapPathError(err)),
				fix: fix,
				err: err,
			}
		}
		return Secret(strings.TrimSpace(string(b))), FromFileVar, nil
	}
	if v, ok := r.lookup(name); ok && strings.TrimSpace(v) != "" {
		return Secret(strings.TrimSpace(v)), FromEnv, nil
	}
	return "", FromNowhere, nil
}

// unreadableFix is the fix for a secret file at path that could not be
// read with err; composeFile is where AlgaPSA's compose install keeps it
// on the host ("" when unknown). Permission problems are the common case:
// AlgaPSA's compose guide makes its secrets mode 600 for their owner, and
// this service's image runs as an unprivileged user, so the fix names
// that user and what gives it access.
func (r secretResolver) unreadableFix(path, composeFile string, err error) string {
	if !errors.Is(err, fs.ErrPermission) {
		return "make " + path + " a readable file holding only the value"
	}
	uid := strconv.Itoa(r.uid)
	onHost := "on the host"
	if composeFile != "" {
		onHost = "on the host (AlgaPSA's compose install keeps it at " + composeFile + ")"
	}
	fi, statErr := r.stat(path)
	if statErr != nil {
		// Not even its metadata: a directory on the way keeps us out.
		return "a directory on the way to " + path + " does not let this service's user (uid " + uid + ") in: " +
			"give it access, e.g. `setfacl -m u:" + uid + ":x <host directory>` on the host, or run the container as the directory's owner"
	}
	fix := path + " exists but this service's user (uid " + uid + ") cannot read it"
	owner, known := fileOwner(fi)
	if known {
		fix += fmt.Sprintf(" (it belongs to uid %d, mode %04o)", owner, fi.Mode().Perm())
	}
	fix += ": give the service's user read access, `setfacl -m u:" + uid + ":r <host file>` " + onHost
	switch {
	case known && owner != 0:
		fix += fmt.Sprintf(", or run the container as the file's owner (compose: user: \"%d\"; Kubernetes: runAsUser: %d)", owner, owner)
	case !known:
		fix += ", or run the container as the file's owner"
	}
	return fix + "; on Kubernetes, give the Secret volume defaultMode 0440 and the pod an fsGroup"
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
