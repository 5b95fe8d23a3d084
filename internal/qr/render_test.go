package qr_test

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/png"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/qr"
)

// decodeOrigins are the origins whose codes must decode back exactly.
var decodeOrigins = []string{
	"https://helpdesk.acme.com",
	"https://helpdesk.acme.com:8443",
	"http://localhost:3000",
	"https://[2001:db8::1]:8443",
}

func TestPNGDecodesToExactlyThePayload(t *testing.T) {
	for _, origin := range decodeOrigins {
		for _, size := range []int{128, 256, 333, 512} {
			payload := qr.Payload(origin)
			t.Run(origin+"/"+strconv.Itoa(size), func(t *testing.T) {
				b, err := qr.PNG(payload, size)
				require.NoError(t, err)

				img, err := png.Decode(bytes.NewReader(b))
				require.NoError(t, err)
				assert.Equal(t, image.Rect(0, 0, size, size), img.Bounds())

				got := zbarDecode(t, b)
				assert.Equal(t, payload, got)
				parsed, err := qr.ParsePayload(got)
				require.NoError(t, err)
				assert.Equal(t, origin, parsed)
			})
		}
	}
}

func TestPNGDrawsWholePixelModules(t *testing.T) {
	b, err := qr.PNG(qr.Payload("https://helpdesk.acme.com"), 333)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	// Only pure black and pure white: no anti-aliasing or grey seams.
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if !(r == g && g == bl && (r == 0 || r == 0xffff)) {
				t.Fatalf("pixel (%d,%d) is neither black nor white", x, y)
			}
		}
	}
}

func TestPNGRefusesSizesOutOfRange(t *testing.T) {
	for _, size := range []int{0, -5, qr.MaxPNGSize + 1} {
		_, err := qr.PNG(qr.Payload("https://h.example"), size)
		assert.Error(t, err, "size %d", size)
	}
}

func TestPNGEnlargesASizeBelowTheModuleCount(t *testing.T) {
	b, err := qr.PNG(qr.Payload("https://h.example"), 10)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 10)
}

func TestRenderingsRefuseAPayloadTooLongForAQRCode(t *testing.T) {
	long := strings.Repeat("x", 3000)
	_, err := qr.PNG(long, 256)
	assert.Error(t, err)
	_, err = qr.SVG(long)
	assert.Error(t, err)
	assert.Empty(t, qr.Terminal(long))
	assert.Empty(t, qr.TerminalLight(long))
}

// The SVG is rasterised here from its own rects (see svgModules), then read
// by zbarimg: what a browser draws from those rects is what the phone sees.
func TestSVGDecodesToExactlyThePayload(t *testing.T) {
	for _, origin := range decodeOrigins {
		payload := qr.Payload(origin)
		t.Run(origin, func(t *testing.T) {
			svg, err := qr.SVG(payload)
			require.NoError(t, err)
			grid := svgModules(t, svg)
			assert.Equal(t, payload, zbarDecode(t, rasterise(t, grid, 6, 0)))
		})
	}
}

func TestSVGIsSelfContainedAndAccessible(t *testing.T) {
	payload := qr.Payload("https://helpdesk.acme.com:8443")
	svg, err := qr.SVG(payload)
	require.NoError(t, err)
	var doc svgDoc
	require.NoError(t, xml.Unmarshal(svg, &doc))

	assert.Contains(t, doc.Title, payload, "the <title> names what the code encodes")
	assert.Contains(t, string(svg), `role="img"`)
	assert.Contains(t, string(svg), `shape-rendering="crispEdges"`)
	assert.Regexp(t, `viewBox="0 0 (\d+) (\d+)"`, string(svg))
	for _, external := range []string{"href", "url(", "<script", "<style", "<image", "<foreignObject", "@import"} {
		assert.NotContains(t, string(svg), external)
	}

	grid := svgModules(t, svg)
	for i := range 4 {
		n := len(grid)
		for j := range n {
			assert.False(t, grid[i][j] || grid[n-1-i][j] || grid[j][i] || grid[j][n-1-i],
				"quiet zone module (%d,%d) is dark", i, j)
		}
	}
}

func TestSVGEscapesThePayloadInItsTitle(t *testing.T) {
	svg, err := qr.SVG(`<a href="x">&</a>`)
	require.NoError(t, err)
	var doc svgDoc
	require.NoError(t, xml.Unmarshal(svg, &doc), "the SVG must stay well-formed")
	assert.Contains(t, doc.Title, `<a href="x">&</a>`)
	assert.NotContains(t, string(svg), "<a ")
}

// Terminal output is read back cell by cell as the terminal would show it
// (ink in the terminal's text colour), rasterised, and decoded by zbarimg.
// A margin of background is added around it, as a terminal window has.
func TestTerminalDecodesOnDarkAndLightTerminals(t *testing.T) {
	for _, origin := range decodeOrigins {
		payload := qr.Payload(origin)
		t.Run(origin+"/dark terminal", func(t *testing.T) {
			grid := terminalModules(t, qr.Terminal(payload), false)
			assert.Equal(t, payload, zbarDecode(t, rasteriseOn(t, grid, true)))
		})
		t.Run(origin+"/light terminal", func(t *testing.T) {
			grid := terminalModules(t, qr.TerminalLight(payload), true)
			assert.Equal(t, payload, zbarDecode(t, rasteriseOn(t, grid, false)))
		})
	}
}

func TestTerminalHasAFullQuietZone(t *testing.T) {
	text := qr.Terminal(qr.Payload("https://helpdesk.acme.com"))
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	width := len([]rune(lines[0]))
	for i, line := range lines {
		require.Len(t, []rune(line), width, "line %d is ragged", i)
	}
	// Four light modules = two full text rows of ink on a dark terminal.
	full := strings.Repeat("█", width)
	assert.Equal(t, full, lines[0])
	assert.Equal(t, full, lines[1])
	assert.Equal(t, full, lines[len(lines)-1])
	for _, line := range lines {
		assert.True(t, strings.HasPrefix(line, "████") && strings.HasSuffix(line, "████"),
			"line %q lacks a four-module side margin", line)
	}
}

// rasteriseOn draws modules as a terminal with the given background would,
// surrounding the code with four modules of that background. On a dark
// terminal the code's own quiet zone is the light border the decoder needs.
func rasteriseOn(t *testing.T, grid [][]bool, darkBackground bool) []byte {
	t.Helper()
	if !darkBackground {
		return rasterise(t, grid, 6, 4)
	}
	n := len(grid[0])
	padded := make([][]bool, 0, len(grid)+8)
	row := func() []bool {
		r := make([]bool, n+8)
		for i := range r {
			r[i] = true
		}
		return r
	}
	for range 4 {
		padded = append(padded, row())
	}
	for _, g := range grid {
		r := row()
		copy(r[4:], g)
		padded = append(padded, r)
	}
	for range 4 {
		padded = append(padded, row())
	}
	return rasterise(t, padded, 6, 0)
}
