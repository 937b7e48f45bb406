package gatehouse

import (
	"crypto/hmac"
	"crypto/sha256"
	"strconv"
)

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
