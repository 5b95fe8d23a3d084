package mobileauth

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

type stateErr string

func (e stateErr) Error() string    { return "pg: " + string(e) }
func (e stateErr) SQLState() string { return string(e) }

func TestUnavailable(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("boom"), false},
		{"not found", fmt.Errorf("x: %w", ErrNotFound), false},
		{"unique violation", stateErr("23505"), false},
		{"refused dial", fmt.Errorf("x: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{"reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"bad connection", fmt.Errorf("x: %w", driver.ErrBadConn), true},
		{"cut short", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), true},
		{"admin shutdown", fmt.Errorf("x: %w", stateErr("57P01")), true},
		{"starting up", stateErr("57P03"), true},
		{"connection exception class", stateErr("08006"), true},
		{"too many connections", fmt.Errorf("connect: %w", stateErr("53300")), true},
		{"disk full is not transient", stateErr("53100"), false},
		{"login refused: wrong password", fmt.Errorf("connect: %w", stateErr("28P01")), true},
		{"login refused: unknown role or pg_hba", fmt.Errorf("connect: %w", stateErr("28000")), true},
		{"permission denied on a table is not a login refusal", stateErr("42501"), false},
		{"marked", fmt.Errorf("x: %w", ErrUnavailable), true},
	}
	for _, tc := range cases {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("%s: Unavailable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
