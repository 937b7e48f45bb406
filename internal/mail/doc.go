// Package mail sends Gatehouse's email: one-time codes, magic sign-in codes
// and password-reset links.
//
// Every email goes through the durable outbox (store.Outbox) first:
//
//	Enqueue / EnqueueMessage   render a template and insert a "pending" email
//	Worker.Run                 claim due emails, send each through a Sender,
//	                           record "sent", or schedule a retry with
//	                           exponential backoff, or give up ("failed")
//
// so a crash or an SMTP outage loses nothing, and several nodes can share one
// queue. Delivery is at least once: a node that dies after the SMTP server
// accepted a message but before it recorded the fact sends it again when its
// lease runs out. Each message carries a Message-ID derived from its outbox
// ID (<email_…@gatehouse>), so such a repeat is recognisably the same message.
//
// Senders:
//
//	SMTPSender     real delivery through an SMTP relay configured by URL
//	               (smtp://user:pass@host:587, smtps://user:pass@host:465);
//	               5xx replies to MAIL, RCPT and DATA are permanent
//	               (ErrPermanent), everything else is retried
//	CaptureSender  development: sends nothing and logs the code or link, so
//	               the dev inbox (which reads the outbox) and the log show it
//
// Templates live in templates/ (embedded): an HTML and a plain-text version
// of each kind, branded with the environment's app name, logo and colour.
package mail
