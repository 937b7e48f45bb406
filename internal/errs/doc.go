// Package errs defines the error kinds Gatehouse uses across layers and the
// Error type that keeps a client-safe message apart from its internal cause.
//
// Domain code returns *Error values (or wraps store sentinels into them);
// each HTTP surface turns a Kind into a status code in exactly one function,
// shows Code and Message to the client, and logs Err.
package errs
