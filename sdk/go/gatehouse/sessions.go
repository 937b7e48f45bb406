package gatehouse

import "context"

// ListSessions lists a user's sessions with apps, newest first unless
// p.Order says otherwise. An unknown user fails with ErrNotFound.
func (c *Client) ListSessions(ctx context.Context, userID string, p ListParams) *Iterator[UserSession] {
	return list[UserSession](c, "/user_management/users/"+pathEscape(userID)+"/sessions", p, nil)
}

// RevokeSession ends a session: its refresh token stops working at once,
// and its access token at expiry. Revoking is idempotent: an unknown or
// already-ended session is not an error.
func (c *Client) RevokeSession(ctx context.Context, sessionID string) error {
	return c.do(ctx, "POST", "/user_management/sessions/revoke", nil, map[string]string{"session_id": sessionID}, nil)
}
