package sqlitestore

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors. Callers branch on them with errors.Is; every error the
// package returns is wrapped with the operation that failed.
var (
	// ErrSchemaTooNew is returned by Open when the database was written by a
	// newer revocd whose schema version this binary does not know.
	ErrSchemaTooNew = errors.New("sqlitestore: database schema is newer than this binary")

	// ErrSeqConflict is returned by Tx.InsertEvent when (origin, seq) is
	// already held by an event with a different event_id: a peer or the
	// local sequencer produced two events for one log position.
	ErrSeqConflict = errors.New("sqlitestore: (origin, seq) already holds a different event")

	// ErrSeqRange is returned by Tx.InsertEvent when Seq does not fit the
	// signed 64-bit INTEGER column.
	ErrSeqRange = errors.New("sqlitestore: seq out of range")

	// ErrRefreshExists is returned by Tx.InsertRefresh when the jti is taken.
	ErrRefreshExists = errors.New("sqlitestore: refresh token already exists")

	// ErrRefreshNotFound is returned by Tx.RetireRefresh for an unknown jti.
	ErrRefreshNotFound = errors.New("sqlitestore: refresh token not found")

	// ErrRefreshRetired is returned by Tx.RetireRefresh when the token was
	// already rotated: presenting it again is refresh-token reuse.
	ErrRefreshRetired = errors.New("sqlitestore: refresh token already retired")

	// ErrRefreshRevoked is returned by Tx.RetireRefresh when the token is
	// revoked.
	ErrRefreshRevoked = errors.New("sqlitestore: refresh token revoked")

	// ErrTxDone is returned by Tx methods called after Commit or Rollback.
	ErrTxDone = errors.New("sqlitestore: transaction already committed or rolled back")

	// ErrBadPath is returned by Open for a path the driver cannot address
	// (empty, or containing '?', which starts the DSN parameters).
	ErrBadPath = errors.New("sqlitestore: unusable database path")
)

// wrap prefixes err with the package and the operation, keeping it
// unwrappable; a nil err stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY constraint
// failure reported by SQLite.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
