package qr

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxPNGSize bounds the PNG width a caller may ask for, so a size taken from
// a request cannot make the server allocate an unbounded image.
const MaxPNGSize = 4096

// svgModule is how many CSS pixels one module gets in the SVG's intrinsic
// size; the viewBox is in modules, so the image scales without blurring.
const svgModule = 8

// bitmap encodes payload at Medium recovery and returns its modules,
// bitmap[y][x] true for a dark module, including go-qrcode's four-module
// quiet zone on every side (the minimum ISO/IEC 18004 asks for).
func bitmap(payload string) ([][]bool, error) {
	code, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	return code.Bitmap(), nil
}

// PNG renders payload as a square black-on-white PNG size pixels wide.
// Every module is the same whole number of pixels (size / modules, at least
// one) and the remainder becomes extra white margin, so edges stay sharp;
// a size smaller than the module count yields one pixel per module.
func PNG(payload string, size int) ([]byte, error) {
	if size <= 0 || size > MaxPNGSize {
		return nil, fmt.Errorf("PNG size %d is outside 1..%d", size, MaxPNGSize)
	}
	bm, err := bitmap(payload)
	if err != nil {
		return nil, err
	}
	n := len(bm)
	scale := max(size/n, 1)
	side := max(size, n)
	offset := (side - n*scale) / 2

	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				start := img.PixOffset(offset+x*scale, offset+y*scale+dy)
				for dx := range scale {
					img.Pix[start+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// SVG renders payload as a standalone SVG document: a white square with
// the quiet zone, then one black rect per horizontal run of dark modules.
// The viewBox is in modules and shape-rendering is crispEdges, so it stays
// sharp at any zoom; it references nothing outside itself (no fonts,
// scripts, links or styles), and its <title>, role and aria-labelledby let
// screen readers announce it.
func SVG(payload string) ([]byte, error) {
	bm, err := bitmap(payload)
	if err != nil {
		return nil, err
	}
	n := len(bm)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges" role="img" aria-labelledby="alga-qr-title">`+"\n",
		n, n, n*svgModule, n*svgModule)
	b.WriteString(`<title id="alga-qr-title">QR code to connect the Alga PSA mobile app: `)
	if err := xml.EscapeText(&b, []byte(payload)); err != nil {
		return nil, fmt.Errorf("escape SVG title: %w", err)
	}
	b.WriteString("</title>\n")
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", n, n)
	for y, row := range bm {
		// Merging runs keeps a typical code at a few hundred rects instead of
		// one per module, and leaves no hairline seams between neighbours.
		for x := 0; x < n; {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < n && row[x] {
				x++
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="1" fill="#000000"/>`+"\n", start, y, x-start)
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes(), nil
}

// Terminal renders payload with half-block characters (▀ ▄ █ and space),
// one text row per two module rows, for terminals with a DARK background
// (the default of most terminal emulators and consoles).
//
// Text is drawn in the light foreground colour, so Terminal draws the LIGHT
// modules and the quiet zone as glyphs and leaves the dark modules as
// background: on a dark terminal the phone sees dark modules on a light
// square, the polarity every scanner reads. On a light-background terminal
// use TerminalLight. No ANSI colour codes are used, so the output survives
// pipes, logs and terminals without colour. Terminal returns "" only when
// payload is too long for a QR code, which no real origin is.
func Terminal(payload string) string {
	return terminal(payload, false)
}

// TerminalLight is Terminal for terminals with a LIGHT background (dark
// text): it draws the dark modules as glyphs and the light ones as spaces.
func TerminalLight(payload string) string {
	return terminal(payload, true)
}

// terminal draws modules whose darkness equals inkIsDark as glyphs. Rows past
// the bottom edge count as quiet zone (light), which keeps a full-width
// light border below the code when the module count is odd.
func terminal(payload string, inkIsDark bool) string {
	bm, err := bitmap(payload)
	if err != nil {
		return ""
	}
	n := len(bm)
	ink := func(y, x int) bool {
		dark := y < n && bm[y][x]
		return dark == inkIsDark
	}
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		for x := 0; x < n; x++ {
			top, bottom := ink(y, x), ink(y+1, x)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
