package sqlstore

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A connection error is redacted of the password as a whole value, in
// clear or URL-encoded, and nothing else: a very short password must not
// blank every occurrence of its letters elsewhere in the message.
func TestRedactHidesThePasswordOnlyAsAWholeValue(t *testing.T) {
	encoded := url.UserPassword("u", "p@ss w:rd").String() // u:p%40ss%20w%3Ard
	tests := []struct {
		name, secret, msg, want string
	}{
		{"a one-letter password leaves the other letters alone", "a",
			`connect to PostgreSQL at db:5432 (database "alga_auth", user "app"): password authentication failed`,
			`connect to PostgreSQL at db:5432 (database "alga_auth", user "app"): password authentication failed`},
		{"a short password inside words is left alone, as a value it is hidden", "pw",
			`pwned by password=pw host=db`, `pwned by password=xxxxx host=db`},
		{"a short password quoted", "x1", `bad password "x1" for x10`, `bad password "xxxxx" for x10`},
		{"a password in a URL", "hunter2", "postgres://u:hunter2@db:5432/x: refused", "postgres://u:xxxxx@db:5432/x: refused"},
		{"a password URL-encoded in a URL's user info", "p@ss w:rd", "postgres://" + encoded + "@db/x: refused", "postgres://u:xxxxx@db/x: refused"},
		{"a password query-escaped", "p@ss w:rd", "password=p%40ss+w%3Ard host=db", "password=xxxxx host=db"},
		{"every whole occurrence", "s3cret", "s3cret then s3cret", "xxxxx then xxxxx"},
		{"at the very start and end", "s3cret", "s3cret", "xxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cause := errors.New(tc.msg)
			err := redact(cause, tc.secret)
			assert.Equal(t, tc.want, err.Error())
			assert.ErrorIs(t, err, cause, "the chain is kept for errors.Is/As")
		})
	}
}
