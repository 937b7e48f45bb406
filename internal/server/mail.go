package server

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

// outboxMailer is the flow's Mailer: it renders the email, writes it to the
// durable outbox and wakes the worker.
type outboxMailer struct {
	outbox store.Outbox
	worker *mail.Worker
	from   string
}

func (m *outboxMailer) Send(ctx context.Context, env *store.Environment, msg authflow.Mail) error {
	_, err := mail.Enqueue(ctx, m.outbox, env, m.from, msg.To, msg.Kind,
		mail.TemplateData{Email: msg.To, Code: msg.Code, Link: msg.Link, ExpiresIn: msg.ExpiresIn})
	if err != nil {
		return err
	}
	m.worker.Notify()
	return nil
}

// devInboxLimit is how many emails the dev inbox shows.
const devInboxLimit = 100

type inboxEmail struct {
	ID        string `json:"id"`
	To        string `json:"to"`
	Subject   string `json:"subject"`
	Text      string `json:"text"`
	HTML      string `json:"html"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
}

func (s *Server) inbox(ctx context.Context) ([]inboxEmail, error) {
	page, err := s.deps.Store.ListEmails(ctx, "", store.ListParams{Limit: devInboxLimit, Order: store.Desc})
	if err != nil {
		return nil, err
	}
	out := []inboxEmail{}
	for _, e := range page.Data {
		out = append(out, inboxEmail{ID: e.ID, To: e.To, Subject: e.Subject, Text: e.Text, HTML: e.HTML,
			Status: e.Status, CreatedAt: web.Time(e.CreatedAt)})
	}
	return out, nil
}

// devInboxJSON serves GET /_dev/inbox.json: {"data":[…]}, newest first.
func (s *Server) devInboxJSON(w http.ResponseWriter, r *http.Request) error {
	emails, err := s.inbox(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"data": emails})
	return nil
}

var inboxPage = template.Must(template.New("inbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dev inbox · Gatehouse</title><link rel="stylesheet" href="/assets/style.css"></head>
<body><main class="shell" style="max-width:60rem">
<section class="card"><p class="brand">Gatehouse development</p><h1>Dev inbox</h1>
<p class="lead">Emails Gatehouse would have sent, newest first. Only <code>gatehouse dev</code> serves this page.</p>
{{if not .}}<p>No emails yet.</p>{{end}}
{{range .}}<article class="field">
<h2 class="inbox-subject">{{.Subject}}</h2>
<p class="hint">To {{.To}} · {{.CreatedAt}} · {{.Status}} · <a href="/_dev/inbox/{{.ID}}">view as the recipient sees it</a></p>
<pre class="inbox-text">{{.Text}}</pre>
</article>{{end}}
</section></main></body></html>`))

// devInbox serves GET /_dev/inbox.
func (s *Server) devInbox(w http.ResponseWriter, r *http.Request) error {
	emails, err := s.inbox(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	return inboxPage.Execute(w, emails)
}

// devInboxEmail serves one email's HTML as the recipient would see it,
// with a CSP that allows its inline styles and remote images but no script.
func (s *Server) devInboxEmail(w http.ResponseWriter, r *http.Request) error {
	e, err := s.deps.Store.GetEmail(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write([]byte(e.HTML))
	return err
}

func devRoutes(mux *http.ServeMux, s *Server, logger *slog.Logger) {
	mux.Handle("GET /_dev/inbox", web.JSON(logger, s.devInbox))
	mux.Handle("GET /_dev/inbox.json", web.JSON(logger, s.devInboxJSON))
	mux.Handle("GET /_dev/inbox/{id}", web.JSON(logger, s.devInboxEmail))
}
