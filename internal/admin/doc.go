// Package admin serves the operator dashboard at /admin/: server-rendered
// pages from embedded html/template files (parsed at start), its own mux,
// and its own sign-in (package adminauth). It needs no JavaScript; one
// small script adds a copy button and the live branding preview.
//
// Routes (all under /admin; {env} is an environment ID):
//
//	GET  /admin/                                   go to the first environment (or create one)
//	GET  /admin/login                              email and password form
//	POST /admin/login                              check the password (then ask for the TOTP code if on)
//	POST /admin/login/totp                         check the TOTP code
//	GET  /admin/login/{token}                      one-time sign-in link (gatehouse dev)
//	GET  /admin/setup/{token}                      one-time set-up link: choose a password
//	POST /admin/setup/{token}
//	POST /admin/logout                             sign out
//	GET  /admin/account                            change password, TOTP status
//	POST /admin/account/password
//	GET  /admin/account/totp                       TOTP enrolment: secret and otpauth URI
//	POST /admin/account/totp                       confirm a code and turn TOTP on
//	POST /admin/account/totp/disable
//	GET  /admin/activity                           server-wide admin events
//	GET  /admin/environments                       list and create environments
//	POST /admin/environments
//	GET  /admin/switch                             environment switcher (?env=&section=)
//	GET  /admin/env/{env}/                         the environment's users
//	GET  /admin/env/{env}/settings                 name, lifetimes, signing algorithm
//	POST /admin/env/{env}/settings
//	GET  /admin/env/{env}/users                    search (?q=) and keyset pages (?after=, ?before=)
//	GET  /admin/env/{env}/users/{user}             profile, sessions, identities
//	POST /admin/env/{env}/users/{user}             edit name and email
//	GET  /admin/env/{env}/users/{user}/delete      confirm deletion (type the email)
//	POST /admin/env/{env}/users/{user}/delete
//	POST /admin/env/{env}/users/{user}/sessions/{session}/revoke
//	GET  /admin/env/{env}/redirects                redirect URIs, sign-out redirects, sign-in endpoint, CORS
//	POST /admin/env/{env}/redirects/{kind}/add     kind: redirect-uris or sign-out
//	POST /admin/env/{env}/redirects/{kind}/remove
//	POST /admin/env/{env}/redirects/{kind}/default
//	POST /admin/env/{env}/sign-in-endpoint
//	POST /admin/env/{env}/cors-origins
//	GET  /admin/env/{env}/api-keys                 list; create shows the secret once
//	POST /admin/env/{env}/api-keys
//	GET  /admin/env/{env}/api-keys/{key}/revoke    confirm revocation
//	POST /admin/env/{env}/api-keys/{key}/revoke
//	GET  /admin/env/{env}/branding                 app name, logo, colour, appearance, preview
//	POST /admin/env/{env}/branding
//	GET  /admin/env/{env}/branding.css             the saved brand colour, for the preview
//	GET  /admin/env/{env}/activity                 events (?type=, ?after=, ?before=)
//	GET  /admin/assets/{file}                      admin.css, app.js
//
// Security: the session cookie gh_admin (HttpOnly, SameSite=Strict,
// Path=/admin, Secure on https) holds a random token stored hashed; an end
// user's gh_<env> cookie is never read here. Every response carries a strict
// Content-Security-Policy (no inline script or style), nosniff,
// no-referrer, frame denial and no-store. Every POST must carry the CSRF
// token (a double-submit cookie and hidden field, compared in constant time)
// and is refused if the browser marks it cross-site (Sec-Fetch-Site).
// Every change an admin makes is recorded as an admin.* event.
package admin
