package cli

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/app"
	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

func keysCommands() []*command {
	return []*command{
		{name: "rotate", summary: "generate a new access-token signing key and make it active", run: runKeysRotate},
		{name: "list", summary: "list the signing keys", run: runKeysList},
	}
}

func runKeysRotate(e Env) int {
	const cmd = "keys rotate"
	fs := flags(cmd)
	usage := cmd + "\n\n" +
		"Generates a new Ed25519 signing key and makes it the active one. Running servers start\n" +
		"signing with it 30 s later, once every replica has loaded it; older keys stay in\n" +
		"/.well-known/jwks.json until every access token they signed has expired.\n" +
		"With ALGA_MOBILE_SECRET_KEY set it first seals every signing key still stored in clear\n" +
		"and deletes the stored server secrets (they are derived from the key instead)."
	if code, ok := parse(e, fs, usage, 0); !ok {
		return code
	}
	cfg, _ := config.Load()
	return withStore(e, cmd, func(st *sqlstore.Store) int {
		keys, err := app.SigningKeys(cfg, st)
		if err != nil {
			return fail(e, cmd, err)
		}
		sealed, deleted, err := app.SealAtRest(e.Ctx, cfg, st)
		if err != nil {
			return fail(e, cmd, err)
		}
		k, err := token.Rotate(e.Ctx, keys, time.Now(), rand.Reader)
		if err != nil {
			return fail(e, cmd, err)
		}
		fmt.Fprintf(e.Stdout, "new signing key %s is active; older keys stay published until their tokens expire\n", k.KID)
		if sealed+deleted > 0 {
			fmt.Fprintf(e.Stdout, "sealed %d signing key(s) kept in clear with ALGA_MOBILE_SECRET_KEY and deleted %d stored server secret(s) (now derived from it)\n", sealed, deleted)
		}
		return writeAdminAudit(e, st, cmd, adminEvent{op: mobileauth.AuditAdminKeysRotate, record: k.KID,
			details: map[string]string{"algorithm": k.Algorithm, "sealed": strconv.Itoa(sealed), "deleted_secrets": strconv.Itoa(deleted)}})
	})
}

func runKeysList(e Env) int {
	const cmd = "keys list"
	fs := flags(cmd)
	if code, ok := parse(e, fs, cmd+"\n\nLists the access-token signing keys, newest first.", 0); !ok {
		return code
	}
	return withStore(e, cmd, func(st *sqlstore.Store) int {
		keys, err := st.ListSigningKeys(e.Ctx)
		if err != nil {
			return fail(e, cmd, err)
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALGORITHM\tCREATED\tSTATUS")
		for _, k := range keys {
			status := "active"
			if k.RetiredAt != nil {
				status = "retired " + k.RetiredAt.UTC().Format(timeLayout)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cell(k.KID), cell(k.Algorithm), k.CreatedAt.UTC().Format(timeLayout), status)
		}
		if err := tw.Flush(); err != nil {
			return fail(e, cmd, err)
		}
		return ExitOK
	})
}
