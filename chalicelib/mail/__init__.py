"""E-mails to the shopper from order events: claimed once (claims), built from templates (message),
sent through SES or SMTP (transport), driven by the notifier function (notifier). See
docs/decisions/0029-shopper-e-mails.md."""
