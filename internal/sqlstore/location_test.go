package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMustExistDoesNotCreateAnSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "x.db")
	_, err := Open(context.Background(), "sqlite:"+path, Options{MustExist: true})
	require.ErrorIs(t, err, ErrNoDatabase)
	assert.Contains(t, err.Error(), "sqlite:"+path, "the error names the absolute path it tried")
	_, err = os.Stat(filepath.Join(dir, "sub"))
	assert.ErrorIs(t, err, os.ErrNotExist, "not even the directory is created")

	st, err := Open(context.Background(), "sqlite:"+filepath.Join(dir, "y.db"), Options{})
	require.NoError(t, err, "without MustExist the file is created")
	require.NoError(t, st.Close())
	st, err = Open(context.Background(), "sqlite:"+filepath.Join(dir, "y.db"), Options{MustExist: true})
	require.NoError(t, err, "an existing file opens")
	require.NoError(t, st.Close())
}

func TestLocationNamesTheDatabaseWithoutPassword(t *testing.T) {
	rel, err := parseURL("sqlite:./data/x.db")
	require.NoError(t, err)
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, "sqlite:"+filepath.Join(wd, "data", "x.db"), rel.location(), "relative paths are made absolute")

	pg, err := parseURL("postgres://app:hunter2@db.example.com:5433/mobile?sslmode=disable")
	require.NoError(t, err)
	assert.Equal(t, "postgres://app@db.example.com:5433/mobile", pg.location())
}
