// Package archtest holds guard tests for the repository's structure: every
// package documents itself, and only the HTTP surfaces import net/http.
package archtest
