// Package qr encodes short texts (an otpauth:// URI for TOTP set-up) as QR
// codes: byte mode, error correction level M, versions 1 to 10 (up to 213
// bytes). Written from ISO/IEC 18004; it renders SVG, nothing else.
package qr

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a square of modules; true is dark.
type Code struct {
	Size    int
	modules [][]bool
	fn      [][]bool // function patterns: not data, not masked
}

// Dark reports whether the module at column x, row y is dark.
func (c *Code) Dark(x, y int) bool { return c.modules[y][x] }

// Level M, per version 1…10: total codewords, EC codewords per block,
// number of blocks.
var (
	totalCodewords = [...]int{0, 26, 44, 70, 100, 134, 172, 196, 242, 292, 346}
	eccPerBlock    = [...]int{0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26}
	numBlocks      = [...]int{0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5}
	alignment      = [...][]int{nil, nil, {6, 18}, {6, 22}, {6, 26}, {6, 30}, {6, 34}, {6, 22, 38}, {6, 24, 42}, {6, 26, 46}, {6, 28, 50}}
)

// ErrTooLong is returned for data beyond version 10's capacity.
var ErrTooLong = errors.New("qr: data too long for a version 1-10 code")

// Encode builds the smallest code holding data, with the mask of least
// penalty.
func Encode(data []byte) (*Code, error) {
	version := 0
	for v := 1; v <= 10; v++ {
		countBits := 8
		if v >= 10 {
			countBits = 16
		}
		if 4+countBits+8*len(data) <= 8*(totalCodewords[v]-eccPerBlock[v]*numBlocks[v]) {
			version = v
			break
		}
	}
	if version == 0 {
		return nil, ErrTooLong
	}
	codewords := addECC(dataCodewords(data, version), version)
	var best *Code
	bestPenalty := -1
	for mask := range 8 {
		c := newCode(version)
		c.place(codewords)
		c.applyMask(mask)
		c.drawFormat(mask)
		if p := c.penalty(); bestPenalty < 0 || p < bestPenalty {
			best, bestPenalty = c, p
		}
	}
	return best, nil
}

// dataCodewords: mode 0100 (byte), count, data, terminator, padding.
func dataCodewords(data []byte, version int) []byte {
	var bits []bool
	put := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			bits = append(bits, v>>i&1 == 1)
		}
	}
	put(4, 4)
	if version >= 10 {
		put(len(data), 16)
	} else {
		put(len(data), 8)
	}
	for _, b := range data {
		put(int(b), 8)
	}
	capacity := 8 * (totalCodewords[version] - eccPerBlock[version]*numBlocks[version])
	put(0, min(4, capacity-len(bits)))
	for len(bits)%8 != 0 {
		bits = append(bits, false)
	}
	out := make([]byte, 0, capacity/8)
	for i := 0; i < len(bits); i += 8 {
		var b byte
		for j := range 8 {
			if bits[i+j] {
				b |= 1 << (7 - j)
			}
		}
		out = append(out, b)
	}
	for pad := byte(0xEC); len(out) < capacity/8; pad ^= 0xEC ^ 0x11 {
		out = append(out, pad)
	}
	return out
}

// addECC splits the data into blocks, appends each block's Reed-Solomon
// codewords and interleaves them.
func addECC(data []byte, version int) []byte {
	nb, ecc, raw := numBlocks[version], eccPerBlock[version], totalCodewords[version]
	short := nb - raw%nb
	shortLen := raw / nb
	div := rsDivisor(ecc)
	var blocks [][]byte
	k := 0
	for i := range nb {
		n := shortLen - ecc
		if i >= short {
			n++
		}
		dat := append([]byte(nil), data[k:k+n]...)
		k += n
		e := rsRemainder(dat, div)
		if i < short {
			dat = append(dat, 0) // placeholder so all blocks have one length
		}
		blocks = append(blocks, append(dat, e...))
	}
	var out []byte
	for i := range blocks[0] {
		for j, b := range blocks {
			if i != shortLen-ecc || j >= short {
				out = append(out, b[i])
			}
		}
	}
	return out
}

func gfMul(x, y byte) byte {
	var z int
	for i := 7; i >= 0; i-- {
		z = (z << 1) ^ ((z >> 7) * 0x11D)
		z ^= int(y>>i&1) * int(x)
	}
	return byte(z)
}

func rsDivisor(degree int) []byte {
	r := make([]byte, degree)
	r[degree-1] = 1
	root := byte(1)
	for range degree {
		for j := range r {
			r[j] = gfMul(r[j], root)
			if j+1 < len(r) {
				r[j] ^= r[j+1]
			}
		}
		root = gfMul(root, 2)
	}
	return r
}

func rsRemainder(data, div []byte) []byte {
	r := make([]byte, len(div))
	for _, b := range data {
		f := b ^ r[0]
		copy(r, r[1:])
		r[len(r)-1] = 0
		for i := range r {
			r[i] ^= gfMul(div[i], f)
		}
	}
	return r
}

func newCode(version int) *Code {
	size := 17 + 4*version
	c := &Code{Size: size, modules: make([][]bool, size), fn: make([][]bool, size)}
	for i := range size {
		c.modules[i] = make([]bool, size)
		c.fn[i] = make([]bool, size)
	}
	for i := range size { // timing patterns
		c.set(6, i, i%2 == 0)
		c.set(i, 6, i%2 == 0)
	}
	c.finder(3, 3)
	c.finder(size-4, 3)
	c.finder(3, size-4)
	pos := alignment[version]
	for i, x := range pos {
		for j, y := range pos {
			first, last := 0, len(pos)-1
			if (i == first && j == first) || (i == first && j == last) || (i == last && j == first) {
				continue // finder corners
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					c.set(x+dx, y+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	c.drawFormat(0) // reserve the format areas; redrawn after masking
	if version >= 7 {
		rem := version
		for range 12 {
			rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
		}
		bits := version<<12 | rem
		for i := range 18 {
			bit := bits>>i&1 == 1
			a, b := size-11+i%3, i/3
			c.set(a, b, bit)
			c.set(b, a, bit)
		}
	}
	return c
}

// set draws a function module at column x, row y.
func (c *Code) set(x, y int, dark bool) {
	if x < 0 || y < 0 || x >= c.Size || y >= c.Size {
		return
	}
	c.modules[y][x] = dark
	c.fn[y][x] = true
}

func (c *Code) finder(cx, cy int) {
	for dy := -4; dy <= 4; dy++ {
		for dx := -4; dx <= 4; dx++ {
			d := max(abs(dx), abs(dy))
			c.set(cx+dx, cy+dy, d != 2 && d != 4)
		}
	}
}

func (c *Code) drawFormat(mask int) {
	data := 0<<3 | mask // level M has format bits 00
	rem := data
	for range 10 {
		rem = (rem << 1) ^ ((rem >> 9) * 0x537)
	}
	bits := (data<<10 | rem) ^ 0x5412
	bit := func(i int) bool { return bits>>i&1 == 1 }
	for i := 0; i <= 5; i++ {
		c.set(8, i, bit(i))
	}
	c.set(8, 7, bit(6))
	c.set(8, 8, bit(7))
	c.set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		c.set(14-i, 8, bit(i))
	}
	for i := range 8 {
		c.set(c.Size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		c.set(8, c.Size-15+i, bit(i))
	}
	c.set(8, c.Size-8, true) // the dark module
}

// place lays the codewords out in the zigzag order of the standard.
func (c *Code) place(data []byte) {
	i := 0
	for right := c.Size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for vert := range c.Size {
			for j := range 2 {
				x := right - j
				y := vert
				if (right+1)&2 == 0 {
					y = c.Size - 1 - vert
				}
				if !c.fn[y][x] && i < len(data)*8 {
					c.modules[y][x] = data[i>>3]>>(7-i&7)&1 == 1
					i++
				}
			}
		}
	}
}

func (c *Code) applyMask(mask int) {
	for y := range c.Size {
		for x := range c.Size {
			var inv bool
			switch mask {
			case 0:
				inv = (x+y)%2 == 0
			case 1:
				inv = y%2 == 0
			case 2:
				inv = x%3 == 0
			case 3:
				inv = (x+y)%3 == 0
			case 4:
				inv = (x/3+y/2)%2 == 0
			case 5:
				inv = x*y%2+x*y%3 == 0
			case 6:
				inv = (x*y%2+x*y%3)%2 == 0
			case 7:
				inv = ((x+y)%2+x*y%3)%2 == 0
			}
			if inv && !c.fn[y][x] {
				c.modules[y][x] = !c.modules[y][x]
			}
		}
	}
}

// penalty scores runs, 2×2 blocks, finder-like patterns and imbalance.
func (c *Code) penalty() int {
	p, dark := 0, 0
	n := c.Size
	line := func(get func(i int) bool) {
		run := 1
		for i := 1; i <= n; i++ {
			if i < n && get(i) == get(i-1) {
				run++
				continue
			}
			if run >= 5 {
				p += 3 + run - 5
			}
			run = 1
		}
		for i := 0; i+7 <= n; i++ {
			pat := []bool{true, false, true, true, true, false, true}
			ok := true
			for k, b := range pat {
				ok = ok && get(i+k) == b
			}
			if ok {
				light := func(a, b int) bool {
					for k := a; k < b; k++ {
						if k >= 0 && k < n && get(k) {
							return false
						}
					}
					return true
				}
				if light(i-4, i) || light(i+7, i+11) {
					p += 40
				}
			}
		}
	}
	for y := range n {
		line(func(i int) bool { return c.modules[y][i] })
	}
	for x := range n {
		line(func(i int) bool { return c.modules[i][x] })
	}
	for y := range n - 1 {
		for x := range n - 1 {
			v := c.modules[y][x]
			if v == c.modules[y][x+1] && v == c.modules[y+1][x] && v == c.modules[y+1][x+1] {
				p += 3
			}
		}
	}
	for y := range n {
		for x := range n {
			if c.modules[y][x] {
				dark++
			}
		}
	}
	dev := abs(dark*20-n*n*10) / (n * n)
	return p + dev*10
}

// SVG renders the code with a quiet zone of four modules; it contains only
// numbers and fixed markup (no input text).
func (c *Code) SVG(moduleSize int) string {
	total := (c.Size + 8) * moduleSize
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`,
		total, total, c.Size+8, c.Size+8)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, c.Size+8, c.Size+8)
	for y := range c.Size {
		for x := range c.Size {
			if c.modules[y][x] {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+4, y+4)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
