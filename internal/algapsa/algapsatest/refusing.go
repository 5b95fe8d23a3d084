package algapsatest

import (
	"net"
	"net/url"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// PasswordRefusingServer is a PostgreSQL server that asks for a password
// and refuses whatever it gets with SQLSTATE 28P01 (invalid_password), as
// a server with password authentication answers a wrong password (the
// shared test server trusts every local connection, so it cannot show
// this). Each password it was sent arrives on passwords.
func PasswordRefusingServer(t testing.TB) (host string, port int, passwords chan string) {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	passwords = make(chan string, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go refusePassword(conn, passwords)
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	return addr.IP.String(), addr.Port, passwords
}

// refusePassword answers one connection of PasswordRefusingServer.
func refusePassword(conn net.Conn, passwords chan<- string) {
	defer func() { _ = conn.Close() }()
	be := pgproto3.NewBackend(conn, conn)
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		if _, ok := msg.(*pgproto3.SSLRequest); ok {
			_, _ = conn.Write([]byte("N"))
			continue
		}
		break
	}
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if be.Flush() != nil || be.SetAuthType(pgproto3.AuthTypeCleartextPassword) != nil {
		return
	}
	msg, err := be.Receive()
	if err != nil {
		return
	}
	if pw, ok := msg.(*pgproto3.PasswordMessage); ok {
		select {
		case passwords <- pw.Password:
		default: // nobody reads them: a retrying pool must not block here
		}
	}
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "app_user"`})
	_ = be.Flush()
}

// WrongPasswordURL is a postgres:// URL of AlgaPSA's database that
// PasswordRefusingServer refuses (28P01).
func WrongPasswordURL(t testing.TB) string {
	t.Helper()
	host, port, _ := PasswordRefusingServer(t)
	return "postgres://app_user:wrong-password@" + net.JoinHostPort(host, strconv.Itoa(port)) + "/server?sslmode=disable&connect_timeout=5"
}

// UnknownRoleURL is ALGA_TEST_POSTGRES_URL connecting as a role that does
// not exist, which PostgreSQL refuses with SQLSTATE 28000
// (invalid_authorization_specification) even where it trusts every
// connection. It creates nothing. Without ALGA_TEST_POSTGRES_URL it skips
// (fails under CI).
func UnknownRoleURL(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(testenv.PostgresURL(t))
	require.NoError(t, err)
	u.User = url.UserPassword("algapsa_no_such_role_"+randomHex(t, 6), "pw")
	return u.String()
}
