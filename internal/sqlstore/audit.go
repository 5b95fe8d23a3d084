package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Audit listing limits.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 10000
)

// AppendAudit stores one audit event (its ID is assigned by the database;
// a zero Time becomes now). Details are kept as a JSON object.
func (s *Store) AppendAudit(ctx context.Context, e mobileauth.AuditEvent) error {
	defer s.track("AppendAudit", time.Now())
	args, err := s.auditArgs(e)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, insertAudit, args...); err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// AppendAudits stores several events at once (all or none), so a busy
// service pays one commit for a batch instead of one per event. On
// PostgreSQL the batch is also one statement (arrays unnested in order),
// not one round trip per event; on SQLite, in-process, per-event inserts
// inside one transaction cost little.
func (s *Store) AppendAudits(ctx context.Context, events []mobileauth.AuditEvent) error {
	defer s.track("AppendAudits", time.Now())
	if len(events) == 0 {
		return nil
	}
	if s.dialect == DialectPostgres {
		return s.appendAuditArrays(ctx, events)
	}
	return s.inTx(ctx, func(tx *txn) error {
		for _, e := range events {
			args, err := s.auditArgs(e)
			if err != nil {
				return err
			}
			if _, err := tx.exec(ctx, insertAudit, args...); err != nil {
				return fmt.Errorf("append audit event: %w", err)
			}
		}
		return nil
	})
}

// insertAuditArrays inserts one row per array element, in array order
// (ORDER BY the ordinality), so ids keep the events' order.
const insertAuditArrays = "INSERT INTO audit_events" +
	" (occurred_at, tenant_id, user_id, operation, record_id, client_ip, correlation_id, details)" +
	" SELECT a, b, c, d, e, f, g, h FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[]," +
	" $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS u(a, b, c, d, e, f, g, h, n) ORDER BY n"

func (s *Store) appendAuditArrays(ctx context.Context, events []mobileauth.AuditEvent) error {
	cols := make([][]any, 8)
	for i := range cols {
		cols[i] = make([]any, 0, len(events))
	}
	for _, e := range events {
		args, err := s.auditArgs(e)
		if err != nil {
			return err
		}
		for i, a := range args {
			cols[i] = append(cols[i], a)
		}
	}
	args := make([]any, len(cols))
	for i, c := range cols {
		args[i] = c
	}
	if _, err := s.exec(ctx, insertAuditArrays, args...); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

const insertAudit = "INSERT INTO audit_events" +
	" (occurred_at, tenant_id, user_id, operation, record_id, client_ip, correlation_id, details)" +
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"

// auditArgs encodes one event as insertAudit's arguments.
func (s *Store) auditArgs(e mobileauth.AuditEvent) ([]any, error) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	var details any
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return nil, fmt.Errorf("encode audit details: %w", err)
		}
		details = string(b)
	}
	return []any{s.ts(e.Time), e.TenantID, e.UserID, e.Operation, e.RecordID, e.ClientIP, e.CorrelationID, details}, nil
}

// ListAudit returns events newest first (in insertion order, which stays
// monotonic whatever the replicas' clocks say), filtered by tenant and/or
// user; Limit defaults to 50 and is capped at 10,000.
func (s *Store) ListAudit(ctx context.Context, f mobileauth.AuditFilter) ([]mobileauth.AuditEvent, error) {
	defer s.track("ListAudit", time.Now())
	var (
		where []string
		args  []any
	)
	if f.TenantID != "" {
		args = append(args, f.TenantID)
		where = append(where, fmt.Sprintf("tenant_id = $%d", len(args)))
	}
	if f.UserID != "" {
		args = append(args, f.UserID)
		where = append(where, fmt.Sprintf("user_id = $%d", len(args)))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)
	args = append(args, limit)
	query := "SELECT id, occurred_at, tenant_id, user_id, operation, record_id, client_ip, correlation_id, details" +
		" FROM audit_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := s.read(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var events []mobileauth.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return events, nil
}

func scanAudit(row rowScanner) (mobileauth.AuditEvent, error) {
	var (
		e       mobileauth.AuditEvent
		at      dbTime
		details sql.NullString
	)
	if err := row.Scan(&e.ID, &at, &e.TenantID, &e.UserID, &e.Operation, &e.RecordID, &e.ClientIP,
		&e.CorrelationID, &details); err != nil {
		return e, err
	}
	e.Time = at.t
	if details.Valid && details.String != "" {
		if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
			return e, fmt.Errorf("decode audit details of event %d: %w", e.ID, err)
		}
	}
	return e, nil
}
