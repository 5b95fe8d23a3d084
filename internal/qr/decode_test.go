package qr_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// No pure-Go QR decoder is available to this project's module proxy (the
// ones served only encode), so decoding uses a real, independent decoder:
// zbarimg from Debian's zbar-tools. Under ALGA_TEST_REQUIRE_SERVICES=1 its
// absence fails the test instead of skipping it.

// zbarDecode returns what zbarimg reads from the PNG image, exactly (its
// trailing newline removed), restricted to QR codes so a stray symbology
// cannot produce a false match.
func zbarDecode(t *testing.T, pngBytes []byte) string {
	t.Helper()
	bin := testenv.Binary(t, "ALGA_TEST_ZBARIMG", "zbarimg", "/usr/bin/zbarimg")
	file := filepath.Join(t.TempDir(), "qr.png")
	require.NoError(t, os.WriteFile(file, pngBytes, 0o600))
	cmd := exec.CommandContext(t.Context(), bin, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", file) //nolint:gosec // G204: zbarimg from ALGA_TEST_ZBARIMG or PATH, on a file the test wrote
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "zbarimg found no QR code; stderr: %s", stderr.String())
	return strings.TrimSuffix(stdout.String(), "\n")
}

// rasterise paints a module grid (true = dark) black on white at scale
// pixels per module, adding margin light modules on every side.
func rasterise(t *testing.T, dark [][]bool, scale, margin int) []byte {
	t.Helper()
	h := len(dark)
	require.NotZero(t, h)
	w := len(dark[0])
	img := image.NewGray(image.Rect(0, 0, (w+2*margin)*scale, (h+2*margin)*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range dark {
		require.Len(t, row, w, "ragged module row %d", y)
		for x, d := range row {
			if !d {
				continue
			}
			for dy := range scale {
				for dx := range scale {
					img.SetGray((x+margin)*scale+dx, (y+margin)*scale+dy, color.Gray{})
				}
			}
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// svgDoc is the part of our own SVG the rasteriser reads back.
type svgDoc struct {
	ViewBox string `xml:"viewBox,attr"`
	Title   string `xml:"title"`
	Rects   []struct {
		X      string `xml:"x,attr"`
		Y      string `xml:"y,attr"`
		Width  string `xml:"width,attr"`
		Height string `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
}

// svgModules parses an SVG written by SVG back into its module grid: the
// viewBox gives the grid size and each rect, in document order, paints its
// cells with its fill. This is how the test rasterises SVG without a
// browser — it reads only what a renderer would draw.
func svgModules(t *testing.T, svg []byte) [][]bool {
	t.Helper()
	var doc svgDoc
	require.NoError(t, xml.Unmarshal(svg, &doc))
	var vx, vy, vw, vh int
	_, err := fmt.Sscanf(doc.ViewBox, "%d %d %d %d", &vx, &vy, &vw, &vh)
	require.NoError(t, err, "viewBox %q", doc.ViewBox)
	require.Equal(t, []int{0, 0}, []int{vx, vy})
	require.Equal(t, vw, vh, "QR viewBox must be square")
	grid := make([][]bool, vh)
	for y := range grid {
		grid[y] = make([]bool, vw)
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "rect coordinate %q is not a whole module", s)
		return n
	}
	for _, r := range doc.Rects {
		x, y, w, h := num(r.X), num(r.Y), num(r.Width), num(r.Height)
		require.True(t, x >= 0 && y >= 0 && x+w <= vw && y+h <= vh, "rect %+v outside the viewBox", r)
		var dark bool
		switch r.Fill {
		case "#000000":
			dark = true
		case "#ffffff":
		default:
			t.Fatalf("unexpected fill %q", r.Fill)
		}
		for yy := y; yy < y+h; yy++ {
			for xx := x; xx < x+w; xx++ {
				grid[yy][xx] = dark
			}
		}
	}
	return grid
}

// terminalModules reads half-block text back into modules: each character
// is two vertically stacked modules, "ink" where the glyph is drawn. inkIsDark
// says how the terminal shows ink (dark text on a light background, or the
// reverse).
func terminalModules(t *testing.T, text string, inkIsDark bool) [][]bool {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var grid [][]bool
	for _, line := range lines {
		var top, bottom []bool
		for _, r := range line {
			var ti, bi bool
			switch r {
			case '█':
				ti, bi = true, true
			case '▀':
				ti = true
			case '▄':
				bi = true
			case ' ':
			default:
				t.Fatalf("unexpected character %q in terminal rendering", r)
			}
			top = append(top, ti == inkIsDark)
			bottom = append(bottom, bi == inkIsDark)
		}
		grid = append(grid, top, bottom)
	}
	return grid
}
