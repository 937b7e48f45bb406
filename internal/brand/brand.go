// Package brand holds what the dashboard preview, the hosted pages and
// the emails share about an environment's branding colours.
package brand

import (
	"math"
	"strconv"
)

// TextOn picks black or white text for a #rrggbb background, whichever
// contrasts more by WCAG relative luminance.
func TextOn(hex string) string {
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(hex[1:3]) + 0.7152*lin(hex[3:5]) + 0.0722*lin(hex[5:7])
	if (l+0.05)/0.05 > 1.05/(l+0.05) {
		return "#0b0c0e"
	}
	return "#ffffff"
}
