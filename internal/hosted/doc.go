// Package hosted serves the browser side of the sign-in flow: the
// authorization endpoint, the hosted sign-in and sign-up pages, and logout.
// Pages are server-rendered from embedded html/template files, need no
// JavaScript, and carry a strict Content-Security-Policy.
//
// Routes:
//
//	GET  /user_management/authorize         check the app's request, then sign in (or reuse the browser session)
//	GET  /hosted/{client_id}/sign-in        sign-in form for a pending request (?request=authreq_…)
//	POST /hosted/{client_id}/sign-in
//	GET  /hosted/{client_id}/sign-up        sign-up form
//	POST /hosted/{client_id}/sign-up
//	GET  /user_management/sessions/logout   end the session and browser session, redirect to an allowed target
//	GET  /assets/style.css
//
// Hosted page URLs name their environment (by client ID) in the path and
// carry the pending request in the query. A page reached without a live
// request (a bookmark, an expired link) redirects to the environment's
// sign-in endpoint so the app starts a proper flow.
//
// Every form has a CSRF token (double-submit: an HttpOnly SameSite=Strict
// cookie and a hidden field, compared in constant time), and POSTs that a
// browser marks cross-site (Sec-Fetch-Site) are refused outright.
package hosted
