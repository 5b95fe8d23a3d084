package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// Every link in the repository's Markdown points at a file of the
// repository (a clone has nothing beside it: the contract's old link to
// ../shared/ was dead), and no link leaves for the web.
func TestMarkdownLinksStayInTheRepository(t *testing.T) {
	root, err := filepath.Abs(dpRoot)
	require.NoError(t, err)
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		b, err := os.ReadFile(path) //nolint:gosec // G304: the repository's own documents, walked by the test
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, path)
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.HasPrefix(target, "#") {
				continue
			}
			checked++
			assert.NotRegexp(t, `^[a-z]+:`, target, "%s links outside the repository: %s", rel, target)
			file, _, _ := strings.Cut(target, "#")
			abs := filepath.Join(filepath.Dir(path), file)
			inside, _ := filepath.Rel(root, abs)
			assert.False(t, strings.HasPrefix(inside, ".."), "%s links outside the repository: %s", rel, target)
			_, err := os.Stat(abs) //nolint:gosec // G703: a link target inside the checkout, which is what the test checks
			assert.NoError(t, err, "%s links to a missing file: %s", rel, target)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, checked, 5)
}
